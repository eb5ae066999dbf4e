// Console checks of the UnityEngine-free core (Runtime/Core), run by tests/test_unity_core.py:
//
//   mcs -out:CoreTests.exe Runtime/Core/*.cs Tests~/CoreTests.cs
//   mono CoreTests.exe golden <tests/golden>      decode the Python encoders' golden bytes, assert values
//   mono CoreTests.exe unit                        parser edge cases, scheduler, blendshape map
//   mono CoreTests.exe listen <port> <packets> <timeout_s>
//        bind UDP 127.0.0.1:<port> (0: any free port), print {"port": N}, then one JSON line per decoded
//        event until <packets> datagrams arrived or the timeout passed, then the frames still being assembled
//        (FaceStreamDecoder.Flush) and a {"done": ...} line.
//
// Exit status 0 when every check passed. Unity ignores folders ending in '~', so this never ships.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using UniFLG.Face.Core;

static class CoreTests
{
    static int _failures;
    static int _checks;

    static int Main(string[] args)
    {
        CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
        if (args.Length == 2 && args[0] == "golden") Golden(args[1]);
        else if (args.Length == 1 && args[0] == "unit") Unit();
        else if (args.Length == 4 && args[0] == "listen")
            return Listen(int.Parse(args[1]), int.Parse(args[2]), double.Parse(args[3], CultureInfo.InvariantCulture));
        else
        {
            Console.Error.WriteLine("usage: CoreTests.exe golden DIR | unit | listen PORT PACKETS TIMEOUT_S");
            return 2;
        }
        Console.WriteLine("{0} checks, {1} failed", _checks, _failures);
        return _failures == 0 ? 0 : 1;
    }

    static void Check(bool ok, string what)
    {
        _checks++;
        if (!ok) { _failures++; Console.WriteLine("FAIL " + what); }
    }

    static void Equal<T>(T expected, T actual, string what)
    {
        Check(EqualityComparer<T>.Default.Equals(expected, actual), what + ": expected " + expected + ", got " + actual);
    }

    /// <summary>Hex fixture with '#' comments and free whitespace (as tests/test_bridge_codecs.py reads it).</summary>
    static byte[] Hex(string path) { return HexLines(File.ReadAllLines(path)); }

    static byte[] HexLines(IEnumerable<string> lines)
    {
        var sb = new StringBuilder();
        foreach (string line in lines)
        {
            int hash = line.IndexOf('#');
            foreach (char c in hash < 0 ? line : line.Substring(0, hash))
                if (!char.IsWhiteSpace(c)) sb.Append(c);
        }
        string hex = sb.ToString();
        var bytes = new byte[hex.Length / 2];
        for (int i = 0; i < bytes.Length; i++) bytes[i] = Convert.ToByte(hex.Substring(2 * i, 2), 16);
        return bytes;
    }

    /// <summary>A hex fixture of several datagrams, each after a "# --- datagram" comment line.</summary>
    static List<byte[]> HexParts(string path)
    {
        var parts = new List<byte[]>();
        var current = new List<string>();
        foreach (string line in File.ReadAllLines(path).Concat(new[] { "# --- datagram (end)" }))
        {
            if (!line.StartsWith("# --- datagram", StringComparison.Ordinal)) { current.Add(line); continue; }
            byte[] bytes = HexLines(current);
            if (bytes.Length > 0) parts.Add(bytes);
            current.Clear();
        }
        return parts;
    }

    static List<FaceEvent> Decode(FaceStreamDecoder decoder, byte[] data)
    {
        var events = new List<FaceEvent>();
        decoder.Feed(data, data.Length, events);
        return events;
    }

    // ------------------------------------------------------------------ golden bytes from the Python encoders

    static void Golden(string dir)
    {
        // osc_stream_end.hex: wire.osc_stream_end("s1", 42)
        var end = (OscMessage)OscParser.Parse(Hex(Path.Combine(dir, "osc_stream_end.hex")));
        Equal("/uniflg/stream/end", end.Address, "stream end address");
        Equal("si", end.TypeTags, "stream end tags");
        Equal("s1", end.GetString(0), "stream end id");
        Equal(42, end.GetInt(1), "stream end frames");

        // osc_frame_bundle.hex: frame 3 of "s1" at 30 fps, points [[0.5, 0.25]], jawOpen 1.0, time tag 1.5 s
        byte[] frameBytes = Hex(Path.Combine(dir, "osc_frame_bundle.hex"));
        var bundle = (OscBundle)OscParser.Parse(frameBytes);
        Equal(1.5, bundle.TimeTag.ToUnixSeconds(), "bundle time tag");
        Equal(3, bundle.Elements.Count, "bundle elements");
        var first = new FaceStreamDecoder();
        var events = Decode(first, frameBytes);
        Equal(0, events.Count, "a decoder's first frame waits: it cannot know yet whether more parts follow");
        first.Flush(events);
        Equal(1, events.Count, "frame bundle -> one event (flushed)");
        var f = events.Count == 1 ? events[0] as FaceFrame : null;
        Check(f != null, "frame bundle -> FaceFrame");
        if (f != null)
        {
            Equal("s1", f.StreamId, "frame stream id");
            Equal(3L, f.Index, "frame index");
            Equal((double)(float)(3.0 / 30.0), f.TimeCode, "frame time code (float32 0.1)");
            Check(f.Points != null && f.Points.SequenceEqual(new[] { 0.5f, 0.25f }), "frame points");
            Check(f.Weights.Count == 1 && f.Weights["jawOpen"] == 1f, "frame jawOpen");
            Equal(1.5, f.TimeTag.ToUnixSeconds(), "frame time tag");
        }

        // osc_frame_split.hex: the same frame with two blendshapes, split over three datagrams of one time tag.
        List<byte[]> split = HexParts(Path.Combine(dir, "osc_frame_split.hex"));
        Equal(3, split.Count, "split frame: three datagrams");
        var merger = new FaceStreamDecoder();
        var merged = new List<FaceEvent>();
        foreach (byte[] part in split) merger.Feed(part, part.Length, merged);
        merger.Flush(merged);
        var joined = merged.Count == 1 ? merged[0] as FaceFrame : null;
        Check(joined != null, "split frame -> one FaceFrame, got " + merged.Count);
        if (joined != null)
        {
            Equal(3L, joined.Index, "split frame index");
            Check(joined.Points != null && joined.Points.SequenceEqual(new[] { 0.5f, 0.25f }), "split frame points");
            Check(joined.Weights.Count == 2 && joined.Weights["jawOpen"] == 1f && joined.Weights["mouthClose"] == 0.5f,
                  "split frame weights merged");
            Equal(1.5, joined.TimeTag.ToUnixSeconds(), "split frame time tag");
        }
        var again = new List<FaceEvent>();
        foreach (byte[] part in split) merger.Feed(part, part.Length, again);
        Check(again.Count == 0 && merger.LateParts == 3 && merger.Pending == 0, "parts of a handed-out frame are late");

        // vmc_frame_bundle.hex: vmc.encode_frame(("A",), [0.5], 0.0): OK, T, Val A 0.5, Apply
        byte[] vmcBytes = Hex(Path.Combine(dir, "vmc_frame_bundle.hex"));
        var vmcBundle = (OscBundle)OscParser.Parse(vmcBytes);
        Check(vmcBundle.TimeTag.IsImmediate, "vmc time tag immediately");
        var addresses = vmcBundle.Elements.Select(e => ((OscMessage)e).Address).ToArray();
        Check(addresses.SequenceEqual(new[] { "/VMC/Ext/OK", "/VMC/Ext/T", "/VMC/Ext/Blend/Val", "/VMC/Ext/Blend/Apply" }),
              "vmc addresses " + string.Join(" ", addresses));
        var vmcDecoder = new FaceStreamDecoder();
        events = Decode(vmcDecoder, vmcBytes);
        var v = events.Count == 1 ? events[0] as FaceFrame : null;
        Check(v != null && v.Source == FrameSource.Vmc, "vmc bundle -> one VMC frame");
        if (v != null)
        {
            Equal(0.0, v.TimeCode, "vmc time code");
            Check(v.Weights.Count == 1 && v.Weights["A"] == 0.5f, "vmc A = 0.5");
        }
        Equal(1, vmcDecoder.Ignored, "vmc: /VMC/Ext/OK ignored");

        // livelink_packet.hex is not OSC: counted as malformed, never thrown.
        var ll = new FaceStreamDecoder();
        Check(Decode(ll, Hex(Path.Combine(dir, "livelink_packet.hex"))).Count == 0 && ll.Malformed == 1,
              "Live Link packet rejected as malformed OSC");

        // Every truncation of the golden datagrams fails cleanly (OscFormatException only), except a cut at
        // an element boundary, which is a valid bundle with fewer elements.
        foreach (byte[] whole in new[] { frameBytes, vmcBytes })
            for (int n = 0; n < whole.Length; n++)
            {
                try
                {
                    var cut = OscParser.Parse(whole, 0, n) as OscBundle;
                    int full = ((OscBundle)OscParser.Parse(whole)).Elements.Count;
                    Check(cut != null && cut.Elements.Count < full, "truncated to " + n + " bytes parsed whole");
                }
                catch (OscFormatException) { _checks++; }
                catch (Exception e) { Check(false, "truncated to " + n + " bytes: " + e.GetType().Name); }
            }
    }

    // ------------------------------------------------------------------ unit checks

    static byte[] Pad(byte[] b) { var o = new byte[(b.Length + 3) / 4 * 4]; Buffer.BlockCopy(b, 0, o, 0, b.Length); return o; }
    static byte[] Str(string s) { var b = Encoding.UTF8.GetBytes(s); var o = new byte[(b.Length / 4 + 1) * 4]; Buffer.BlockCopy(b, 0, o, 0, b.Length); return o; }
    static byte[] BE(long v, int n) { var o = new byte[n]; for (int i = 0; i < n; i++) o[i] = (byte)(v >> (8 * (n - 1 - i))); return o; }
    static byte[] Cat(params byte[][] parts) { return parts.SelectMany(p => p).ToArray(); }

    static void Unit()
    {
        // All argument types.
        long dbits = BitConverter.DoubleToInt64Bits(-2.25);
        byte[] msg = Cat(Str("/x"), Str(",ibhdtTFNs"), BE(-7, 4), BE(3, 4), Pad(new byte[] { 1, 2, 3 }),
                         BE(1L << 40, 8), BE(dbits, 8), BE(unchecked((long)0x83aa7e8180000000UL), 8), Str("ok"));
        var m = (OscMessage)OscParser.Parse(msg);
        Equal(-7, m.GetInt(0), "int32");
        Check(((byte[])m.Args[1]).SequenceEqual(new byte[] { 1, 2, 3 }), "blob");
        Equal(1L << 40, (long)m.Args[2], "int64");
        Equal(-2.25, (double)m.Args[3], "double");
        Equal(1.5, ((OscTimeTag)m.Args[4]).ToUnixSeconds(), "time tag arg");
        Check((bool)m.Args[5] && !(bool)m.Args[6] && m.Args[7] == null, "T F N");
        Equal("ok", m.GetString(8), "string after blob");
        Equal(1.5, OscTimeTag.FromUnixSeconds(1.5).ToUnixSeconds(), "time tag round trip");

        // Malformed input: each an OscFormatException.
        var bad = new Dictionary<string, byte[]>
        {
            { "unknown tag", Cat(Str("/x"), Str(",q")) },
            { "missing NUL", Encoding.ASCII.GetBytes("/abc") },
            { "non-NUL padding", new byte[] { (byte)'/', 0, 1, 0 } },
            { "blob past end", Cat(Str("/x"), Str(",b"), BE(100, 4)) },
            { "bad element size", Cat(Str("#bundle"), BE(1, 8), BE(-4, 4)) },
            { "bad first byte", new byte[] { 6, 0, 0, 0 } },
            { "not a multiple of 4", new byte[] { (byte)'/', 0, 0, 0, 0 } },
            { "trailing bytes", Cat(Str("/x"), Str(",i"), BE(1, 4), BE(2, 4)) },
        };
        foreach (var kv in bad)
        {
            try { OscParser.Parse(kv.Value); Check(false, kv.Key + " parsed"); }
            catch (OscFormatException) { _checks++; }
        }
        var nest = Cat(Str("/x"), Str(","));
        for (int d = 0; d < 10; d++) nest = Cat(Str("#bundle"), BE(1, 8), BE(nest.Length, 4), nest);
        try { OscParser.Parse(nest); Check(false, "deep nesting parsed"); } catch (OscFormatException) { _checks++; }

        // VMC values split over datagrams, with int values (some performers send ,si).
        var dec = new FaceStreamDecoder();
        var evs = new List<FaceEvent>();
        foreach (byte[] dgram in new[] { Cat(Str("/VMC/Ext/Blend/Val"), Str(",sf"), Str("Joy"), BE(BitConverter.ToInt32(BitConverter.GetBytes(0.25f), 0), 4)),
                                          Cat(Str("/VMC/Ext/Blend/Val"), Str(",si"), Str("A"), BE(1, 4)),
                                          Cat(Str("/VMC/Ext/Blend/Apply"), Str(",")) })
            dec.Feed(dgram, dgram.Length, evs);
        var vf = evs.Count == 1 ? evs[0] as FaceFrame : null;
        Check(vf != null && vf.Weights["Joy"] == 0.25f && vf.Weights["A"] == 1f && double.IsNaN(vf.TimeCode),
              "VMC over separate datagrams");

        SplitFrames();

        // Scheduler on a fake clock.
        double now = 10.0;
        var s = new FrameScheduler(() => now) { Delay = 0.1 };
        for (int i = 0; i < 3; i++) s.Enqueue(new FaceFrame { StreamId = "a", Index = i, TimeCode = i / 30.0 });
        Check(s.Poll() == null, "nothing due before the delay");
        now = 10.1;
        Equal(0L, s.Poll().Index, "frame 0 due at anchor");
        Check(s.Poll() == null, "frame 1 not yet due");
        now = 10.1 + 2 / 30.0 + 1e-9;
        Equal(2L, s.Poll().Index, "newest due frame wins");
        Equal(1, s.Dropped, "overtaken frame counted");
        s.Enqueue(new FaceFrame { StreamId = "a", Index = 3, TimeCode = 0.1, IsEnd = true });
        s.Enqueue(new FaceFrame { StreamId = "b", Index = 0, TimeCode = 0.0 });   // new stream re-anchors
        now += 1.0;
        Check(s.Poll().IsEnd, "end frame returned before a later due frame");
        Equal("b", s.Poll().StreamId, "then the new stream");
        s.Mode = PlaybackMode.Immediate;
        s.Enqueue(new FaceFrame { StreamId = "c", TimeCode = 100 });
        Check(s.Poll() != null, "immediate mode");
        var cap = new FrameScheduler(() => now) { Capacity = 4, Mode = PlaybackMode.Immediate };
        for (int i = 0; i < 10; i++) cap.Enqueue(new FaceFrame { StreamId = "x", Index = i });
        Equal(4, cap.Count, "capacity");

        // Blendshape map.
        var mesh = new[] { "Face.jawOpen", "Fcl_MTH_A", "Fcl_EYE_Close", "EyeBlinkLeft", "mouth_smile_left" };
        var map = new BlendshapeMap(mesh, BlendshapePresets.VRoid());
        var set = new Dictionary<int, float>();
        int n = map.Apply(new Dictionary<string, float>
        {
            { "A", 0.5f }, { "Blink", 0.2f }, { "jawOpen", 2f }, { "eyeBlinkLeft", 0.7f }, { "EyeBlinkLeft", 0.3f },
            { "mouthSmileLeft", 0.1f }, { "Unknown", 1f },
        }, (i, w) => set[i] = w);
        Equal(5, n, "shapes driven");
        Equal(50f, set[1], "A -> Fcl_MTH_A (0..100)");
        Equal(20f, set[2], "Blink -> Fcl_EYE_Close");
        Equal(100f, set[0], "jawOpen clamped, matched through 'Face.'");
        Equal(70f, set[3], "camelCase and PascalCase meet; the larger wins");
        Check(Math.Abs(set[4] - 10f) < 1e-4, "mouthSmileLeft matches mouth_smile_left");
        set.Clear();
        map.Apply(null, (i, w) => set[i] = w, neutral: true);
        Check(set.Count == 5 && set.Values.All(w => w == 0f), "neutral zeroes every driven shape");
        var strict = new BlendshapeMap(mesh, new[] { new BlendshapeRule("A", "Fcl_MTH_A", 0.5f) }, matchByName: false);
        Equal(0, strict.Resolve("jawOpen").Length, "matchByName off");
        Equal(0.5f, strict.Resolve("A")[0].Gain, "rule gain");
    }

    static byte[] F32(float v) { return BE(BitConverter.ToInt32(BitConverter.GetBytes(v), 0), 4); }

    /// <summary>One part of a /uniflg frame as the sender splits it: a bundle opening with /uniflg/frame.</summary>
    static byte[] FramePart(string stream, int index, bool landmarks, params string[] blends)
    {
        var elements = new List<byte[]> { Cat(Str("/uniflg/frame"), Str(",sif"), Str(stream), BE(index, 4), F32(index / 30f)) };
        if (landmarks) elements.Add(Cat(Str("/uniflg/landmarks"), Str(",ff"), F32(0.5f), F32(index)));
        foreach (string name in blends) elements.Add(Cat(Str("/uniflg/blend/" + name), Str(",f"), F32(0.25f)));
        return Cat(new[] { Str("#bundle"), BE(1L << 32, 8) }.Concat(elements.SelectMany(e => new[] { BE(e.Length, 4), e })).ToArray());
    }

    static List<FaceEvent> FeedAll(FaceStreamDecoder decoder, params byte[][] datagrams)
    {
        var events = new List<FaceEvent>();
        foreach (byte[] d in datagrams) decoder.Feed(d, d.Length, events);
        return events;
    }

    static string Show(List<FaceEvent> events)
    {
        return string.Join(" ", events.Select(e => e is FaceFrame
            ? (((FaceFrame)e).IsEnd ? "end" : "") + e.StreamId + ((FaceFrame)e).Index + ":" +
              (((FaceFrame)e).Points != null ? "p" : "") + ((FaceFrame)e).Weights.Count
            : e.GetType().Name));
    }

    /// <summary>Frames split over datagrams are merged by (stream id, index) and handed out once whole.</summary>
    static void SplitFrames()
    {
        var d = new FaceStreamDecoder();
        Equal("", Show(FeedAll(d, FramePart("a", 0, true, "b0"), FramePart("a", 0, false, "b1"))),
              "the first frame ever waits (its shape is unknown)");
        Equal("a0:p2", Show(FeedAll(d, FramePart("a", 1, true, "b0"))), "the next frame hands it out, merged");
        Equal("a1:p2", Show(FeedAll(d, FramePart("a", 1, false, "b1"))), "then frames come out with their last part");
        Equal("", Show(FeedAll(d, FramePart("a", 1, false, "b2"))), "a part after its frame is dropped");
        Equal(1, d.LateParts, "late part counted");
        Equal("", Show(FeedAll(d, FramePart("a", 2, true, "b0"), FramePart("a", 2, false, "b1"))),
              "the late part taught the decoder that frames have three weights");
        Equal("a2:p2 StreamEnded enda3:0", Show(FeedAll(d, Cat(Str("/uniflg/stream/end"), Str(",si"), Str("a"), BE(3, 4)))),
              "the stream's end hands out its last frame first");
        Equal("b0:p3", Show(FeedAll(d, FramePart("b", 0, true, "b0", "b1"), FramePart("b", 0, false, "b2"))),
              "a new stream's first frame: the last stream's shape");
        Equal("c0:p3 d0:p3", Show(FeedAll(d, FramePart("c", 0, true, "b0"), FramePart("d", 0, true, "b0", "b1"),
                                         FramePart("c", 0, false, "b1", "b2"), FramePart("d", 0, false, "b2"))),
              "interleaved streams are merged apart");
        Equal("", Show(FeedAll(d, FramePart("e", 0, true))), "an incomplete frame waits");
        Equal(1, d.Pending, "one frame pending");
        var flushed = new List<FaceEvent>();
        d.Flush(flushed);
        Check(Show(flushed) == "e0:p0" && d.Pending == 0, "Flush hands out what is pending: " + Show(flushed));
    }

    // ------------------------------------------------------------------ live UDP

    static int Listen(int port, int packets, double timeout)
    {
        using (var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, port)))
        {
            udp.Client.ReceiveBufferSize = 1 << 20;
            Console.WriteLine("{\"port\": " + ((IPEndPoint)udp.Client.LocalEndPoint).Port + "}");
            Console.Out.Flush();
            var decoder = new FaceStreamDecoder();
            var events = new List<FaceEvent>();
            var deadline = DateTime.UtcNow.AddSeconds(timeout);
            int got = 0;
            while (got < packets)
            {
                int left = (int)(deadline - DateTime.UtcNow).TotalMilliseconds;
                if (left <= 0) break;
                udp.Client.ReceiveTimeout = left;
                IPEndPoint from = null;
                byte[] data;
                try { data = udp.Receive(ref from); }
                catch (SocketException) { break; }
                got++;
                events.Clear();
                decoder.Feed(data, data.Length, events);
                foreach (var e in events) Console.WriteLine(Json(e));
                Console.Out.Flush();
            }
            events.Clear();
            decoder.Flush(events);   // a frame still being assembled when the packets (or the time) ran out
            foreach (var e in events) Console.WriteLine(Json(e));
            Console.WriteLine("{\"done\": true, \"packets\": " + got + ", \"malformed\": " + decoder.Malformed +
                              ", \"ignored\": " + decoder.Ignored +
                              ", \"late_parts\": " + decoder.LateParts + "}");
            return got == packets ? 0 : 3;
        }
    }

    static string Num(double v) { return double.IsNaN(v) ? "null" : v.ToString("R", CultureInfo.InvariantCulture); }
    static string Num(float v) { return v.ToString("R", CultureInfo.InvariantCulture); }

    static string Quote(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (char c in s)
        {
            if (c == '"' || c == '\\') sb.Append('\\').Append(c);
            else if (c < 0x20) sb.AppendFormat("\\u{0:x4}", (int)c);
            else sb.Append(c);
        }
        return sb.Append('"').ToString();
    }

    static string Json(FaceEvent e)
    {
        var started = e as StreamStarted;
        if (started != null)
            return "{\"event\": \"start\", \"stream\": " + Quote(started.StreamId) + ", \"sample_rate\": " + started.SampleRate +
                   ", \"fps\": " + started.Fps + ", \"layout\": " + Quote(started.Layout) + ", \"points\": " + started.PointCount + "}";
        var ended = e as StreamEnded;
        if (ended != null)
            return "{\"event\": \"end\", \"stream\": " + Quote(ended.StreamId) + ", \"frames\": " + ended.FrameCount + "}";
        var f = (FaceFrame)e;
        var sb = new StringBuilder();
        sb.Append("{\"event\": \"frame\", \"source\": ").Append(Quote(f.Source == FrameSource.Vmc ? "vmc" : "uniflg"));
        sb.Append(", \"stream\": ").Append(Quote(f.StreamId)).Append(", \"index\": ").Append(f.Index);
        sb.Append(", \"time_code\": ").Append(Num(f.TimeCode)).Append(", \"is_end\": ").Append(f.IsEnd ? "true" : "false");
        sb.Append(", \"timetag\": ").Append(f.TimeTag.IsImmediate ? "null" : Num(f.TimeTag.ToUnixSeconds()));
        sb.Append(", \"points\": ");
        if (f.Points == null) sb.Append("null");
        else sb.Append("[").Append(string.Join(", ", f.Points.Select(Num))).Append("]");
        sb.Append(", \"weights\": {").Append(string.Join(", ", f.Weights.Select(kv => Quote(kv.Key) + ": " + Num(kv.Value)))).Append("}}");
        return sb.ToString();
    }
}
