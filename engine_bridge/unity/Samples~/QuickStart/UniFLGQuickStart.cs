// UniFLG quick start (imported through Package Manager > UniFLG Face > Samples).
// Add this to any GameObject, drag your face's SkinnedMeshRenderer into `face`, press Play, then run
//   uniflg serve --vmc 127.0.0.1:39539          (VRM0 presets; add --vmc-perfect-sync for ARKit meshes)
// or
//   uniflg serve --osc 127.0.0.1:9000           (raw landmarks + ARKit weights; set port to 9000)
// and send text with examples/grpc_client.py or examples/vtuber_vmc.py.
using UniFLG.Face;
using UnityEngine;

public sealed class UniFLGQuickStart : MonoBehaviour
{
    public SkinnedMeshRenderer face;
    public int port = 39539;
    public UniFLGOscReceiver.MappingPreset preset = UniFLGOscReceiver.MappingPreset.MatchByName;

    void Start()
    {
        // Added to an inactive child and configured before it activates: OnEnable then opens the chosen port
        // once (on this object it would first try the default 39539, which VSeeFace may hold).
        var holder = new GameObject("UniFLG receiver");
        holder.SetActive(false);
        holder.transform.SetParent(transform, false);
        var receiver = holder.AddComponent<UniFLGOscReceiver>();
        receiver.port = port;
        receiver.preset = preset;
        receiver.targets = face != null ? new[] { face } : new SkinnedMeshRenderer[0];
        holder.SetActive(true);
        var gizmo = holder.AddComponent<UniFLGLandmarkGizmo>();
        gizmo.receiver = receiver;
        receiver.FrameApplied += f => { if (f.IsEnd) Debug.Log("UniFLG: stream " + f.StreamId + " ended"); };
    }
}
