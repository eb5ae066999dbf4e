// UniFLG for Unity: a minimal OSC 1.0 decoder (messages, bundles, time tags).
// Plain C#, no UnityEngine: compiled and tested outside Unity (Tests~/CoreTests.cs).
//
// Wire format (OSC 1.0): big-endian; strings are NUL-terminated and padded with NULs to a multiple of
// 4 bytes; a blob is an int32 size, the bytes, then padding to 4. A bundle is "#bundle\0", an 8-byte
// NTP time tag, then elements, each an int32 size followed by a message or a nested bundle.
using System;
using System.Collections.Generic;
using System.Text;

namespace UniFLG.Face.Core
{
    /// <summary>A malformed OSC packet (truncated, bad padding, unknown type tag, ...).</summary>
    public sealed class OscFormatException : Exception
    {
        public OscFormatException(string message) : base(message) { }
    }

    /// <summary>An OSC time tag: NTP seconds since 1900 (high 32 bits) and a 2^-32 s fraction.</summary>
    public struct OscTimeTag
    {
        /// <summary>Seconds between the NTP epoch (1900) and the Unix epoch (1970).</summary>
        public const ulong NtpToUnixSeconds = 2208988800UL;

        public readonly ulong Raw;

        public OscTimeTag(ulong raw) { Raw = raw; }

        /// <summary>The special value 1: "apply immediately".</summary>
        public bool IsImmediate { get { return Raw == 1UL; } }

        /// <summary>Seconds since the Unix epoch (meaningless when <see cref="IsImmediate"/>).</summary>
        public double ToUnixSeconds()
        {
            double seconds = (double)(Raw >> 32) - NtpToUnixSeconds;
            return seconds + (Raw & 0xFFFFFFFFUL) / 4294967296.0;
        }

        public static OscTimeTag FromUnixSeconds(double unixSeconds)
        {
            double ntp = unixSeconds + NtpToUnixSeconds;
            ulong whole = (ulong)Math.Floor(ntp);
            ulong frac = (ulong)Math.Round((ntp - whole) * 4294967296.0);
            if (frac > 0xFFFFFFFFUL) { whole += 1; frac = 0; }
            return new OscTimeTag((whole << 32) | frac);
        }

        public override string ToString()
        {
            return IsImmediate ? "immediately" : ToUnixSeconds().ToString("R");
        }
    }

    /// <summary>A message or a bundle.</summary>
    public abstract class OscPacket { }

    /// <summary>One OSC message. Arguments are boxed by type tag: i int, f float, s/S string, b byte[],
    /// h long, d double, t OscTimeTag, c char, T true, F false, N null, I double.PositiveInfinity
    /// ("impulse"), r/m uint (RGBA colour, MIDI bytes).</summary>
    public sealed class OscMessage : OscPacket
    {
        public readonly string Address;
        public readonly string TypeTags;   // without the leading ','
        public readonly object[] Args;

        public OscMessage(string address, string typeTags, object[] args)
        {
            Address = address;
            TypeTags = typeTags;
            Args = args;
        }

        public int GetInt(int i) { return Expect<int>(i, 'i'); }
        public float GetFloat(int i) { return Expect<float>(i, 'f'); }
        public string GetString(int i) { return Expect<string>(i, 's'); }

        /// <summary>An int or a float argument as a float (VMC senders differ on this).</summary>
        public float GetNumber(int i)
        {
            if (i >= Args.Length) throw new OscFormatException(Address + ": missing argument " + i);
            object a = Args[i];
            if (a is float) return (float)a;
            if (a is int) return (int)a;
            if (a is double) return (float)(double)a;
            if (a is long) return (long)a;
            throw new OscFormatException(Address + ": argument " + i + " is not a number");
        }

        T Expect<T>(int i, char tag)
        {
            if (i >= Args.Length || !(Args[i] is T))
                throw new OscFormatException(Address + ": argument " + i + " is not of type '" + tag + "'");
            return (T)Args[i];
        }
    }

    /// <summary>An OSC bundle: a time tag and its elements (messages or nested bundles), in order.</summary>
    public sealed class OscBundle : OscPacket
    {
        public readonly OscTimeTag TimeTag;
        public readonly List<OscPacket> Elements;

        public OscBundle(OscTimeTag timeTag, List<OscPacket> elements)
        {
            TimeTag = timeTag;
            Elements = elements;
        }
    }

    /// <summary>Decodes datagrams into <see cref="OscPacket"/>s; throws <see cref="OscFormatException"/> on
    /// malformed input and never reads outside the given range.</summary>
    public static class OscParser
    {
        const int MaxBundleDepth = 8;
        static readonly byte[] BundleMagic = Encoding.ASCII.GetBytes("#bundle\0");

        public static OscPacket Parse(byte[] data) { return Parse(data, 0, data.Length); }

        public static OscPacket Parse(byte[] data, int offset, int count)
        {
            if (data == null) throw new ArgumentNullException("data");
            if (offset < 0 || count < 0 || offset + count > data.Length)
                throw new ArgumentOutOfRangeException("count");
            return ParseAt(data, offset, offset + count, 0);
        }

        static OscPacket ParseAt(byte[] data, int start, int end, int depth)
        {
            if (end - start < 4 || (end - start) % 4 != 0)
                throw new OscFormatException("an OSC packet is a non-empty multiple of 4 bytes, got " + (end - start));
            if (data[start] == (byte)'#') return ParseBundle(data, start, end, depth);
            if (data[start] == (byte)'/') return ParseMessage(data, start, end);
            throw new OscFormatException("an OSC packet starts with '/' or '#bundle'");
        }

        static OscBundle ParseBundle(byte[] data, int start, int end, int depth)
        {
            if (depth >= MaxBundleDepth) throw new OscFormatException("bundles nested too deeply");
            if (end - start < 16) throw new OscFormatException("truncated bundle header");
            for (int k = 0; k < BundleMagic.Length; k++)
                if (data[start + k] != BundleMagic[k]) throw new OscFormatException("bad bundle header");
            var tag = new OscTimeTag(ReadUInt64(data, start + 8));
            var elements = new List<OscPacket>();
            int pos = start + 16;
            while (pos < end)
            {
                int size = ReadInt32(data, pos, end);
                pos += 4;
                if (size <= 0 || size % 4 != 0 || size > end - pos)
                    throw new OscFormatException("bad bundle element size " + size);
                elements.Add(ParseAt(data, pos, pos + size, depth + 1));
                pos += size;
            }
            return new OscBundle(tag, elements);
        }

        static OscMessage ParseMessage(byte[] data, int start, int end)
        {
            int pos = start;
            string address = ReadString(data, ref pos, end);
            if (pos >= end)  // OSC 1.0 allows a missing type tag string; treat it as no arguments
                return new OscMessage(address, "", new object[0]);
            string tags = ReadString(data, ref pos, end);
            if (tags.Length == 0 || tags[0] != ',') throw new OscFormatException(address + ": type tags must start with ','");
            tags = tags.Substring(1);
            var args = new List<object>(tags.Length);
            foreach (char t in tags)
            {
                switch (t)
                {
                    case 'i': args.Add(ReadInt32(data, pos, end)); pos += 4; break;
                    case 'f': args.Add(ReadFloat(data, pos, end)); pos += 4; break;
                    case 's':
                    case 'S': args.Add(ReadString(data, ref pos, end)); break;
                    case 'b': args.Add(ReadBlob(data, ref pos, end)); break;
                    case 'h': Need(data, pos, 8, end); args.Add((long)ReadUInt64(data, pos)); pos += 8; break;
                    case 'd': Need(data, pos, 8, end); args.Add(BitConverter.Int64BitsToDouble((long)ReadUInt64(data, pos))); pos += 8; break;
                    case 't': Need(data, pos, 8, end); args.Add(new OscTimeTag(ReadUInt64(data, pos))); pos += 8; break;
                    case 'c': args.Add((char)ReadInt32(data, pos, end)); pos += 4; break;
                    case 'r':
                    case 'm': args.Add((uint)ReadInt32(data, pos, end)); pos += 4; break;
                    case 'T': args.Add(true); break;
                    case 'F': args.Add(false); break;
                    case 'N': args.Add(null); break;
                    case 'I': args.Add(double.PositiveInfinity); break;
                    default: throw new OscFormatException(address + ": unsupported type tag '" + t + "'");
                }
            }
            if (pos != end) throw new OscFormatException(address + ": " + (end - pos) + " bytes after the last argument");
            return new OscMessage(address, tags, args.ToArray());
        }

        static void Need(byte[] data, int pos, int n, int end)
        {
            if (pos < 0 || n > end - pos) throw new OscFormatException("truncated OSC packet");
        }

        static int ReadInt32(byte[] d, int pos, int end)
        {
            Need(d, pos, 4, end);
            return (d[pos] << 24) | (d[pos + 1] << 16) | (d[pos + 2] << 8) | d[pos + 3];
        }

        static ulong ReadUInt64(byte[] d, int pos)
        {
            ulong hi = (uint)((d[pos] << 24) | (d[pos + 1] << 16) | (d[pos + 2] << 8) | d[pos + 3]);
            ulong lo = (uint)((d[pos + 4] << 24) | (d[pos + 5] << 16) | (d[pos + 6] << 8) | d[pos + 7]);
            return (hi << 32) | lo;
        }

        static float ReadFloat(byte[] d, int pos, int end)
        {
            int bits = ReadInt32(d, pos, end);
            return BitConverter.ToSingle(BitConverter.GetBytes(bits), 0);  // host order int -> float bits
        }

        static string ReadString(byte[] d, ref int pos, int end)
        {
            int zero = pos;
            while (zero < end && d[zero] != 0) zero++;
            if (zero >= end) throw new OscFormatException("unterminated OSC string");
            string s = Encoding.UTF8.GetString(d, pos, zero - pos);
            int next = pos + ((zero - pos) / 4 + 1) * 4;   // NUL + padding to a multiple of 4
            if (next > end) throw new OscFormatException("OSC string padding runs past the packet");
            for (int k = zero; k < next; k++)
                if (d[k] != 0) throw new OscFormatException("OSC string padding is not NUL");
            pos = next;
            return s;
        }

        static byte[] ReadBlob(byte[] d, ref int pos, int end)
        {
            int size = ReadInt32(d, pos, end);
            pos += 4;
            if (size < 0 || size > end - pos) throw new OscFormatException("bad blob size " + size);
            var blob = new byte[size];
            Buffer.BlockCopy(d, pos, blob, 0, size);
            pos += (size + 3) / 4 * 4;
            if (pos > end) throw new OscFormatException("blob padding runs past the packet");
            return blob;
        }
    }
}
