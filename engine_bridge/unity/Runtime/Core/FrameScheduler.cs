// UniFLG for Unity: hands frames from the socket thread to the main thread and releases each one when
// its time code comes due. Plain C#, no UnityEngine.
using System;
using System.Collections.Generic;
using System.Diagnostics;

namespace UniFLG.Face.Core
{
    public enum PlaybackMode
    {
        /// <summary>Hold each frame until anchor + TimeCode (anchor = arrival of the stream's first frame
        /// + <see cref="FrameScheduler.Delay"/>): network jitter is absorbed and frames keep the sender's spacing.</summary>
        TimeCode,
        /// <summary>Show the newest frame at once (lowest latency; jitter shows).</summary>
        Immediate,
    }

    /// <summary>Thread-safe queue of <see cref="FaceFrame"/>s ordered by due time. <see cref="Enqueue"/> may be
    /// called from any thread; <see cref="Poll"/> from one consumer (Unity's main thread).
    ///
    /// Time codes are seconds on the sender's audio clock (index / fps). The first frame of a stream fixes
    /// an anchor on the local monotonic clock: frame t is due at anchor + t. A new stream id, or a time code
    /// that jumps back, re-anchors. Frames without a time code (NaN) are due on arrival.</summary>
    public sealed class FrameScheduler
    {
        readonly object _lock = new object();
        readonly List<Entry> _queue = new List<Entry>();
        readonly Func<double> _clock;
        string _stream;
        double _anchor = double.NaN;
        double _lastTime = double.NaN;
        long _sequence;

        struct Entry
        {
            public double Due;
            public long Sequence;
            public FaceFrame Frame;
        }

        public FrameScheduler() : this(MonotonicSeconds()) { }

        /// <summary><paramref name="clock"/>: seconds on a monotonic clock (injectable for tests).</summary>
        public FrameScheduler(Func<double> clock) { _clock = clock; }

        public PlaybackMode Mode = PlaybackMode.TimeCode;
        /// <summary>Seconds each stream is held back to absorb jitter (TimeCode mode).</summary>
        public double Delay = 0.1;
        /// <summary>Oldest frames are dropped beyond this many queued frames.</summary>
        public int Capacity = 512;
        /// <summary>Frames dropped because the queue was full or they were overtaken by a newer due frame.</summary>
        public int Dropped { get; private set; }

        public int Count { get { lock (_lock) return _queue.Count; } }

        public static Func<double> MonotonicSeconds()
        {
            var watch = Stopwatch.StartNew();
            return () => watch.Elapsed.TotalSeconds;
        }

        public void Enqueue(FaceFrame frame)
        {
            if (frame == null) throw new ArgumentNullException("frame");
            lock (_lock)
            {
                double now = _clock();
                double t = frame.TimeCode;
                double due;
                if (Mode == PlaybackMode.Immediate || double.IsNaN(t)) due = now;
                else
                {
                    bool restart = frame.StreamId != _stream || double.IsNaN(_anchor) ||
                                   (!double.IsNaN(_lastTime) && t < _lastTime - 0.5);
                    if (restart)
                    {
                        _stream = frame.StreamId;
                        _anchor = now + Delay - t;
                    }
                    _lastTime = t;
                    due = _anchor + t;
                }
                var entry = new Entry { Due = due, Sequence = _sequence++, Frame = frame };
                int at = _queue.Count;   // keep sorted by (due, arrival): usually appends
                while (at > 0 && Later(_queue[at - 1], entry)) at--;
                _queue.Insert(at, entry);
                while (_queue.Count > Capacity) { _queue.RemoveAt(0); Dropped++; }
            }
        }

        static bool Later(Entry a, Entry b)
        {
            return a.Due > b.Due || (a.Due == b.Due && a.Sequence > b.Sequence);
        }

        /// <summary>The newest frame that is due now, or null. Older due frames are skipped (counted in
        /// <see cref="Dropped"/>) except end-of-stream frames, which are returned first so a face always returns
        /// to neutral; call again until null to drain.</summary>
        public FaceFrame Poll()
        {
            lock (_lock)
            {
                double now = _clock();
                int due = 0;
                while (due < _queue.Count && _queue[due].Due <= now) due++;
                if (due == 0) return null;
                for (int k = 0; k < due - 1; k++)
                {
                    if (_queue[k].Frame.IsEnd)
                    {
                        FaceFrame end = _queue[k].Frame;
                        Dropped += k;
                        _queue.RemoveRange(0, k + 1);
                        return end;
                    }
                }
                FaceFrame latest = _queue[due - 1].Frame;
                Dropped += due - 1;
                _queue.RemoveRange(0, due);
                return latest;
            }
        }

        /// <summary>Forget queued frames and anchors (e.g. when the receiver is disabled).</summary>
        public void Clear()
        {
            lock (_lock)
            {
                _queue.Clear();
                _stream = null;
                _anchor = double.NaN;
                _lastTime = double.NaN;
            }
        }
    }
}
