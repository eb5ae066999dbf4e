// UniFLG for Unity: turns decoded OSC packets into face frames. Plain C#, no UnityEngine.
//
// Two inputs are understood (docs/osc.md in the UniFLG repository):
//  * the raw address space of `uniflg serve --osc`: /uniflg/stream/start, then one bundle per frame
//    (/uniflg/frame, /uniflg/landmarks, /uniflg/blend/<ARKit name>...), then /uniflg/stream/end;
//  * the VMC protocol of `uniflg serve --vmc` (or any VMC performer): /VMC/Ext/T, /VMC/Ext/Blend/Val
//    (name, value) pairs, then /VMC/Ext/Blend/Apply, bundled or as separate datagrams.
using System;
using System.Collections.Generic;

namespace UniFLG.Face.Core
{
    public enum FrameSource { UniFLG, Vmc }

    /// <summary>Something the decoder produced: a frame, a stream start or a stream end.</summary>
    public abstract class FaceEvent
    {
        /// <summary>The stream: the gRPC request id for /uniflg, "vmc" for VMC.</summary>
        public string StreamId;
    }

    /// <summary>One face frame. <see cref="TimeCode"/> is seconds from the stream start on the audio sample
    /// clock (index / fps for /uniflg; /VMC/Ext/T for VMC, NaN when the sender gave none).</summary>
    public sealed class FaceFrame : FaceEvent
    {
        public FrameSource Source;
        public long Index = -1;
        public double TimeCode = double.NaN;
        /// <summary>The enclosing bundle's time tag (presentation time for /uniflg; "immediately" for VMC).</summary>
        public OscTimeTag TimeTag = new OscTimeTag(1UL);
        /// <summary>x0, y0, ..., x69, y69 (OpenPose-70, x right, y down, unit square); null for VMC.</summary>
        public float[] Points;
        /// <summary>Blendshape weights in [0, 1] by sender name (ARKit camelCase for /uniflg; VRM0 presets and
        /// perfect-sync PascalCase ARKit names for VMC).</summary>
        public readonly Dictionary<string, float> Weights = new Dictionary<string, float>();
        /// <summary>True for the synthetic frame that marks a stream's end: return the face to neutral.</summary>
        public bool IsEnd;
    }

    public sealed class StreamStarted : FaceEvent
    {
        public int SampleRate;
        public int Fps;
        public string Layout;
        public int PointCount;
    }

    public sealed class StreamEnded : FaceEvent
    {
        public int FrameCount;
    }

    /// <summary>Stateful decoder (VMC values may span datagrams). Not thread-safe: use one per socket thread.</summary>
    public sealed class FaceStreamDecoder
    {
        public const string VmcStreamId = "vmc";
        const string BlendPrefix = "/uniflg/blend/";

        readonly Dictionary<string, float> _vmcPending = new Dictionary<string, float>();
        double _vmcTime = double.NaN;
        readonly Dictionary<string, int> _fps = new Dictionary<string, int>();

        /// <summary>Packets that could not be decoded (counted, never thrown).</summary>
        public int Malformed { get; private set; }
        /// <summary>Messages whose address is neither /uniflg/... nor a VMC blendshape message.</summary>
        public int Ignored { get; private set; }

        /// <summary>Decodes one datagram and appends what it produced to <paramref name="output"/>.</summary>
        public void Feed(byte[] datagram, int count, List<FaceEvent> output)
        {
            OscPacket packet;
            try { packet = OscParser.Parse(datagram, 0, count); }
            catch (OscFormatException) { Malformed++; return; }
            try { Walk(packet, new OscTimeTag(1UL), output); }
            catch (OscFormatException) { Malformed++; }
        }

        void Walk(OscPacket packet, OscTimeTag tag, List<FaceEvent> output)
        {
            var bundle = packet as OscBundle;
            if (bundle == null) { Message((OscMessage)packet, tag, null, output); return; }
            FaceFrame frame = null;   // a /uniflg frame bundle: /uniflg/frame opens it
            foreach (OscPacket element in bundle.Elements)
            {
                var message = element as OscMessage;
                if (message == null) { Walk(element, ((OscBundle)element).TimeTag, output); continue; }
                if (message.Address == "/uniflg/frame")
                {
                    if (frame != null) output.Add(frame);
                    frame = NewFrame(message, bundle.TimeTag);
                    continue;
                }
                Message(message, bundle.TimeTag, frame, output);
            }
            if (frame != null) output.Add(frame);
        }

        static FaceFrame NewFrame(OscMessage m, OscTimeTag tag)
        {
            return new FaceFrame
            {
                Source = FrameSource.UniFLG, StreamId = m.GetString(0), Index = m.GetInt(1),
                TimeCode = m.GetFloat(2), TimeTag = tag,
            };
        }

        void Message(OscMessage m, OscTimeTag tag, FaceFrame frame, List<FaceEvent> output)
        {
            string a = m.Address;
            if (a == "/VMC/Ext/Blend/Val") { _vmcPending[m.GetString(0)] = m.GetNumber(1); return; }
            if (a == "/VMC/Ext/Blend/Apply") { output.Add(VmcFrame(tag)); return; }
            if (a == "/VMC/Ext/T") { _vmcTime = m.GetNumber(0); return; }
            if (a == "/uniflg/landmarks" && frame != null)
            {
                var points = new float[m.Args.Length];
                for (int k = 0; k < points.Length; k++) points[k] = m.GetFloat(k);
                frame.Points = points;
                return;
            }
            if (a.StartsWith(BlendPrefix, StringComparison.Ordinal) && frame != null)
            {
                frame.Weights[a.Substring(BlendPrefix.Length)] = m.GetFloat(0);
                return;
            }
            if (a == "/uniflg/stream/start")
            {
                var s = new StreamStarted
                {
                    StreamId = m.GetString(0), SampleRate = m.GetInt(1), Fps = m.GetInt(2),
                    Layout = m.GetString(3), PointCount = m.GetInt(4),
                };
                _fps[s.StreamId] = s.Fps;
                output.Add(s);
                return;
            }
            if (a == "/uniflg/stream/end")
            {
                var e = new StreamEnded { StreamId = m.GetString(0), FrameCount = m.GetInt(1) };
                output.Add(e);
                int fps;
                double time = _fps.TryGetValue(e.StreamId, out fps) && fps > 0 ? (double)e.FrameCount / fps : double.NaN;
                _fps.Remove(e.StreamId);
                output.Add(new FaceFrame { Source = FrameSource.UniFLG, StreamId = e.StreamId, Index = e.FrameCount,
                                           TimeCode = time, IsEnd = true });
                return;
            }
            Ignored++;   // other VMC traffic (bones, root, OK, ...) and unknown addresses
        }

        FaceFrame VmcFrame(OscTimeTag tag)
        {
            var f = new FaceFrame { Source = FrameSource.Vmc, StreamId = VmcStreamId, TimeCode = _vmcTime, TimeTag = tag };
            foreach (var kv in _vmcPending) f.Weights[kv.Key] = kv.Value;
            _vmcPending.Clear();   // VMC performers resend every value each frame
            _vmcTime = double.NaN;
            return f;
        }
    }
}
