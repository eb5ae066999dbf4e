// NOT UnityEngine. Empty stand-ins for the few UnityEngine members the Runtime scripts use, with Unity's
// signatures, so tests/test_unity_core.py can type-check UniFLGOscReceiver and UniFLGLandmarkGizmo with
// Mono's mcs where no Unity editor exists. Passing this check says the scripts are valid C# against
// these signatures; it does not replace opening the package in Unity.
using System;

namespace UnityEngine
{
    public class Object { }
    public class Component : Object
    {
        public Transform transform { get { return null; } }
        public GameObject gameObject { get { return null; } }
    }
    public sealed class GameObject : Object
    {
        public GameObject(string name) { }
        public Transform transform { get { return null; } }
        public T AddComponent<T>() where T : Component { return null; }
        public void SetActive(bool value) { }
    }
    public class Behaviour : Component { public bool enabled { get; set; } }
    public class MonoBehaviour : Behaviour { }
    public class Transform : Component
    {
        public Vector3 TransformPoint(Vector3 p) { return p; }
        public void SetParent(Transform parent, bool worldPositionStays) { }
    }
    public class Renderer : Component { }
    public class Mesh : Object
    {
        public int blendShapeCount { get { return 0; } }
        public string GetBlendShapeName(int shapeIndex) { return ""; }
    }
    public class SkinnedMeshRenderer : Renderer
    {
        public Mesh sharedMesh { get; set; }
        public void SetBlendShapeWeight(int index, float value) { }
    }
    public struct Vector3 { public float x, y, z; public Vector3(float x, float y, float z) { this.x = x; this.y = y; this.z = z; } }
    public struct Color
    {
        public float r, g, b, a;
        public Color(float r, float g, float b) { this.r = r; this.g = g; this.b = b; a = 1f; }
        public static Color red { get { return new Color(1f, 0f, 0f); } }
    }
    public static class Gizmos
    {
        public static Color color { get; set; }
        public static void DrawLine(Vector3 from, Vector3 to) { }
        public static void DrawSphere(Vector3 center, float radius) { }
    }
    public static class Debug
    {
        public static void Log(object message) { }
        public static void LogError(object message, Object context) { }
        public static void LogWarning(object message, Object context) { }
    }
    public class PropertyAttribute : Attribute { }
    [AttributeUsage(AttributeTargets.Class)] public sealed class AddComponentMenu : Attribute { public AddComponentMenu(string menuName) { } }
    [AttributeUsage(AttributeTargets.Class)] public sealed class DisallowMultipleComponent : Attribute { }
    public sealed class HeaderAttribute : PropertyAttribute { public HeaderAttribute(string header) { } }
    public sealed class TooltipAttribute : PropertyAttribute { public TooltipAttribute(string tooltip) { } }
    public sealed class RangeAttribute : PropertyAttribute { public RangeAttribute(float min, float max) { } }
}
