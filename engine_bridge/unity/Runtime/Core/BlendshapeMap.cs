// UniFLG for Unity: maps sender blendshape names (VRM0 presets, ARKit, perfect-sync) onto a mesh's
// blendshape indices. Plain C#, no UnityEngine: the Unity component passes the mesh's names in.
using System;
using System.Collections.Generic;
using System.Text;

namespace UniFLG.Face.Core
{
    /// <summary>One rule: sender name -> mesh blendshape name, with a gain (1 = full weight).</summary>
    [Serializable]
    public sealed class BlendshapeRule
    {
        public string source;
        public string target;
        public float gain = 1f;

        public BlendshapeRule() { }

        public BlendshapeRule(string source, string target, float gain = 1f)
        {
            this.source = source;
            this.target = target;
            this.gain = gain;
        }
    }

    /// <summary>Built-in rule sets for common avatar conventions.</summary>
    public static class BlendshapePresets
    {
        /// <summary>The 17 VRM 0.x presets UniFLG sends over VMC.</summary>
        public static readonly string[] Vrm0 =
        {
            "Neutral", "A", "I", "U", "E", "O", "Blink", "Joy", "Angry", "Sorrow", "Fun",
            "LookUp", "LookDown", "LookLeft", "LookRight", "Blink_L", "Blink_R",
        };

        /// <summary>ARKit's 52 names in Apple's order (also the Live Link Face curve order).</summary>
        public static readonly string[] Arkit52 =
        {
            "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft",
            "eyeSquintLeft", "eyeWideLeft",
            "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight",
            "eyeSquintRight", "eyeWideRight",
            "jawForward", "jawLeft", "jawRight", "jawOpen",
            "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight",
            "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
            "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
            "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
            "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight",
            "mouthUpperUpLeft", "mouthUpperUpRight",
            "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
            "cheekPuff", "cheekSquintLeft", "cheekSquintRight",
            "noseSneerLeft", "noseSneerRight", "tongueOut",
        };

        /// <summary>VRoid Studio meshes (Face "Fcl_*" shapes) driven by VRM0 presets.</summary>
        public static BlendshapeRule[] VRoid()
        {
            return new[]
            {
                new BlendshapeRule("A", "Fcl_MTH_A"), new BlendshapeRule("I", "Fcl_MTH_I"),
                new BlendshapeRule("U", "Fcl_MTH_U"), new BlendshapeRule("E", "Fcl_MTH_E"),
                new BlendshapeRule("O", "Fcl_MTH_O"), new BlendshapeRule("Blink", "Fcl_EYE_Close"),
                new BlendshapeRule("Blink_L", "Fcl_EYE_Close_L"), new BlendshapeRule("Blink_R", "Fcl_EYE_Close_R"),
                new BlendshapeRule("Joy", "Fcl_ALL_Joy"), new BlendshapeRule("Angry", "Fcl_ALL_Angry"),
                new BlendshapeRule("Sorrow", "Fcl_ALL_Sorrow"), new BlendshapeRule("Fun", "Fcl_ALL_Fun"),
            };
        }

        /// <summary>MMD-style meshes (Japanese morph names) driven by VRM0 presets.</summary>
        public static BlendshapeRule[] Mmd()
        {
            return new[]
            {
                new BlendshapeRule("A", "あ"), new BlendshapeRule("I", "い"), new BlendshapeRule("U", "う"),
                new BlendshapeRule("E", "え"), new BlendshapeRule("O", "お"), new BlendshapeRule("Blink", "まばたき"),
                new BlendshapeRule("Joy", "笑い"), new BlendshapeRule("Sorrow", "困る"), new BlendshapeRule("Angry", "怒り"),
            };
        }
    }

    /// <summary>Resolves sender names to mesh blendshape indices once, then turns a frame's weights ([0, 1])
    /// into mesh weights ([0, 100], Unity's SkinnedMeshRenderer scale).
    ///
    /// Resolution order per sender name: explicit rules (exact mesh name, then normalized), then, when
    /// <c>matchByName</c> is on, a mesh shape whose normalized name equals the sender's. Normalized = lower
    /// case, text up to the last '.' dropped ("Face.jawOpen", "blendShape1.JawOpen"), '_', '-' and spaces
    /// removed; so ARKit camelCase, perfect-sync PascalCase and "jaw_open" all meet. Several senders on one
    /// mesh shape: the largest weight wins (VRM "Blink" and ARKit "eyeBlinkLeft" never add past 100).</summary>
    public sealed class BlendshapeMap
    {
        readonly string[] _meshNames;
        readonly Dictionary<string, int> _exact = new Dictionary<string, int>(StringComparer.Ordinal);
        readonly Dictionary<string, int> _normalized = new Dictionary<string, int>(StringComparer.Ordinal);
        readonly Dictionary<string, List<Binding>> _rules = new Dictionary<string, List<Binding>>(StringComparer.Ordinal);
        readonly Dictionary<string, Binding[]> _cache = new Dictionary<string, Binding[]>(StringComparer.Ordinal);
        readonly bool _matchByName;
        readonly float[] _scratch;
        readonly bool[] _touched;

        public struct Binding
        {
            public int Index;
            public float Gain;
        }

        public BlendshapeMap(IList<string> meshNames, IEnumerable<BlendshapeRule> rules, bool matchByName = true)
        {
            _meshNames = new string[meshNames.Count];
            meshNames.CopyTo(_meshNames, 0);
            for (int i = 0; i < _meshNames.Length; i++)
            {
                if (!_exact.ContainsKey(_meshNames[i])) _exact[_meshNames[i]] = i;
                string n = Normalize(_meshNames[i]);
                if (!_normalized.ContainsKey(n)) _normalized[n] = i;
            }
            _matchByName = matchByName;
            if (rules != null)
                foreach (var rule in rules)
                {
                    if (rule == null || string.IsNullOrEmpty(rule.source) || string.IsNullOrEmpty(rule.target)) continue;
                    int index = FindMesh(rule.target);
                    if (index < 0) continue;
                    List<Binding> list;
                    if (!_rules.TryGetValue(rule.source, out list)) _rules[rule.source] = list = new List<Binding>();
                    list.Add(new Binding { Index = index, Gain = rule.gain });
                }
            _scratch = new float[_meshNames.Length];
            _touched = new bool[_meshNames.Length];
        }

        public int MeshShapeCount { get { return _meshNames.Length; } }

        /// <summary>Lower case, up to the last '.' dropped, '_', '-' and ' ' removed.</summary>
        public static string Normalize(string name)
        {
            int dot = name.LastIndexOf('.');
            var sb = new StringBuilder(name.Length);
            for (int k = dot + 1; k < name.Length; k++)
            {
                char c = name[k];
                if (c == '_' || c == '-' || c == ' ') continue;
                sb.Append(char.ToLowerInvariant(c));
            }
            return sb.ToString();
        }

        int FindMesh(string target)
        {
            int index;
            if (_exact.TryGetValue(target, out index)) return index;
            if (_normalized.TryGetValue(Normalize(target), out index)) return index;
            return -1;
        }

        /// <summary>The mesh shapes a sender name drives (empty when none).</summary>
        public Binding[] Resolve(string source)
        {
            Binding[] found;
            if (_cache.TryGetValue(source, out found)) return found;
            List<Binding> list;
            if (_rules.TryGetValue(source, out list)) found = list.ToArray();
            else
            {
                int index = _matchByName ? FindMesh(source) : -1;
                found = index < 0 ? new Binding[0] : new[] { new Binding { Index = index, Gain = 1f } };
            }
            _cache[source] = found;
            return found;
        }

        /// <summary>Calls <paramref name="set"/>(mesh index, weight 0..100) for every mesh shape the frame drives.
        /// With <paramref name="neutral"/>, every shape any name has driven so far is set to 0 instead.</summary>
        public int Apply(IDictionary<string, float> weights, Action<int, float> set, bool neutral = false)
        {
            if (neutral)
            {
                int zeroed = 0;
                foreach (var bindings in _cache.Values)
                    foreach (var b in bindings) { set(b.Index, 0f); zeroed++; }
                return zeroed;
            }
            Array.Clear(_touched, 0, _touched.Length);
            foreach (var kv in weights)
            {
                float w = kv.Value;
                if (float.IsNaN(w)) continue;
                foreach (var b in Resolve(kv.Key))
                {
                    float v = Math.Max(0f, Math.Min(100f, w * b.Gain * 100f));
                    if (!_touched[b.Index] || v > _scratch[b.Index]) _scratch[b.Index] = v;
                    _touched[b.Index] = true;
                }
            }
            int count = 0;
            for (int i = 0; i < _touched.Length; i++)
                if (_touched[i]) { set(i, _scratch[i]); count++; }
            return count;
        }
    }
}
