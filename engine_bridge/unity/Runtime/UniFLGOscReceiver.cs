// UniFLG for Unity: receive UniFLG faces over UDP (OSC /uniflg/... or VMC blendshapes) and drive
// SkinnedMeshRenderer blendshapes.
//
// Threading: a background thread owns the socket and the decoder, and hands frames to a FrameScheduler
// (locked queue). Update() on the main thread polls the scheduler and touches Unity objects; nothing
// Unity-side is called off the main thread.
using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using UniFLG.Face.Core;
using UnityEngine;

namespace UniFLG.Face
{
    [AddComponentMenu("UniFLG/UniFLG OSC Receiver")]
    [DisallowMultipleComponent]
    public sealed class UniFLGOscReceiver : MonoBehaviour
    {
        public enum MappingPreset
        {
            /// <summary>Sender names matched to mesh shape names (ARKit / perfect-sync meshes, VRM0-named shapes).</summary>
            MatchByName,
            /// <summary>VRoid Studio "Fcl_*" face shapes from VRM0 presets (plus name matching).</summary>
            VRoid,
            /// <summary>MMD morphs (あ い う え お まばたき ...) from VRM0 presets (plus name matching).</summary>
            Mmd,
        }

        [Header("Network")]
        [Tooltip("Open the UDP socket. Off: only Apply() drives the face (e.g. frames from the gRPC client).")]
        public bool listen = true;
        [Tooltip("UDP port: 39539 for VMC (uniflg serve --vmc), 9000 for raw /uniflg (uniflg serve --osc).")]
        public int port = 39539;
        [Tooltip("Listen on every interface instead of loopback only (the sender runs on another machine).")]
        public bool listenOnAllInterfaces;

        [Header("Blendshapes")]
        [Tooltip("Face meshes to drive; each resolves names against its own shapes.")]
        public SkinnedMeshRenderer[] targets = new SkinnedMeshRenderer[0];
        public MappingPreset preset = MappingPreset.MatchByName;
        [Tooltip("Match sender names to mesh shapes by normalized name (case, '_', 'Prefix.' ignored).")]
        public bool matchByName = true;
        [Tooltip("Extra source -> mesh shape rules; they take precedence over the preset and name matching.")]
        public List<BlendshapeRule> rules = new List<BlendshapeRule>();

        [Header("Timing")]
        [Tooltip("TimeCode: frames are held back by the buffer and shown at their time code. Immediate: newest frame at once.")]
        public PlaybackMode playback = PlaybackMode.TimeCode;
        [Tooltip("Seconds each stream is delayed to absorb network jitter (TimeCode mode).")]
        [Range(0f, 1f)] public float bufferSeconds = 0.1f;

        /// <summary>Raised on the main thread after a frame was applied.</summary>
        public event Action<FaceFrame> FrameApplied;

        /// <summary>The last applied frame (main thread); its Points are null for VMC.</summary>
        public FaceFrame LatestFrame { get; private set; }
        /// <summary>The last /uniflg/stream/start seen (sample rate, fps, layout).</summary>
        public StreamStarted LatestStream { get { lock (_streamLock) return _stream; } }
        public int FramesApplied { get; private set; }
        public int FramesDropped { get { return _scheduler != null ? _scheduler.Dropped : 0; } }
        public int MalformedPackets { get { return _malformed; } }

        const int QuietMilliseconds = 100;   // no datagram for this long: frames still being assembled are handed out

        FrameScheduler _scheduler;
        UdpClient _udp;
        Thread _thread;
        volatile bool _running;
        volatile int _malformed;
        readonly object _streamLock = new object();
        StreamStarted _stream;
        BlendshapeMap[] _maps = new BlendshapeMap[0];
        Action<int, float>[] _setters = new Action<int, float>[0];

        void OnEnable()
        {
            BuildMaps();
            _scheduler = new FrameScheduler { Mode = playback, Delay = bufferSeconds };
            if (!listen) return;
            try
            {
                _udp = new UdpClient(new IPEndPoint(listenOnAllInterfaces ? IPAddress.Any : IPAddress.Loopback, port));
            }
            catch (SocketException e)
            {
                Debug.LogError("UniFLG: cannot listen on UDP port " + port + ": " + e.Message, this);
                enabled = false;
                return;
            }
            _running = true;
            _thread = new Thread(ReceiveLoop) { IsBackground = true, Name = "UniFLG OSC " + port };
            _thread.Start();
        }

        void OnDisable()
        {
            _running = false;
            if (_udp != null) _udp.Close();   // unblocks Receive
            if (_thread != null) _thread.Join(500);
            _udp = null;
            _thread = null;
            if (_scheduler != null) _scheduler.Clear();
        }

        /// <summary>Rebuild the name maps (call after changing targets, preset or rules at run time).</summary>
        public void BuildMaps()
        {
            var presetRules = new List<BlendshapeRule>(rules);
            if (preset == MappingPreset.VRoid) presetRules.AddRange(BlendshapePresets.VRoid());
            if (preset == MappingPreset.Mmd) presetRules.AddRange(BlendshapePresets.Mmd());
            _maps = new BlendshapeMap[targets.Length];
            _setters = new Action<int, float>[targets.Length];
            for (int t = 0; t < targets.Length; t++)
            {
                SkinnedMeshRenderer renderer = targets[t];
                if (renderer == null || renderer.sharedMesh == null) continue;
                Mesh mesh = renderer.sharedMesh;
                var names = new string[mesh.blendShapeCount];
                for (int i = 0; i < names.Length; i++) names[i] = mesh.GetBlendShapeName(i);
                _maps[t] = new BlendshapeMap(names, presetRules, matchByName);
                _setters[t] = renderer.SetBlendShapeWeight;   // one delegate per renderer, no per-frame garbage
            }
        }

        void ReceiveLoop()
        {
            var decoder = new FaceStreamDecoder();
            var events = new List<FaceEvent>();
            IPEndPoint from = null;
            _udp.Client.ReceiveTimeout = QuietMilliseconds;
            while (_running)
            {
                byte[] data;
                events.Clear();
                try
                {
                    data = _udp.Receive(ref from);
                    decoder.Feed(data, data.Length, events);   // parts of a split frame are merged here
                }
                catch (SocketException e)
                {
                    if (!_running) break;
                    if (e.SocketErrorCode != SocketError.TimedOut) continue;   // e.g. ICMP port unreachable
                    decoder.Flush(events);   // quiet: hand out a frame whose remaining parts never came
                }
                catch (ObjectDisposedException) { break; }
                _malformed = decoder.Malformed;
                foreach (FaceEvent e in events)
                {
                    var frame = e as FaceFrame;
                    if (frame != null) { _scheduler.Enqueue(frame); continue; }
                    var started = e as StreamStarted;
                    if (started != null) lock (_streamLock) _stream = started;
                }
            }
        }

        void Update()
        {
            if (_scheduler == null) return;
            _scheduler.Mode = playback;
            _scheduler.Delay = bufferSeconds;
            FaceFrame frame;
            while ((frame = _scheduler.Poll()) != null) Apply(frame);
        }

        /// <summary>Apply one frame now (also usable from a gRPC client that decodes frames itself).</summary>
        public void Apply(FaceFrame frame)
        {
            for (int t = 0; t < _maps.Length; t++)
                if (_maps[t] != null && targets[t] != null)
                    _maps[t].Apply(frame.Weights, _setters[t], neutral: frame.IsEnd);
            if (!frame.IsEnd) LatestFrame = frame;
            FramesApplied++;
            if (FrameApplied != null) FrameApplied(frame);
        }
    }
}
