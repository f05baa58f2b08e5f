namespace KataAgent.Testing.Containerd;

public sealed partial class PrivateContainerd
{
    // containerd's TOML: strings as JSON-style basic strings (paths here hold no quote or backslash).
    private static string Quote(string value) => "\"" + value.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    private void WriteConfiguration()
    {
        string root = _directory.CreateDirectory("root");
        string state = _directory.CreateDirectory("state");
        const string cri = "plugins.\"io.containerd.grpc.v1.cri\"";
        var toml = new List<string>
        {
            "version = 2",
            $"root = {Quote(root)}",
            $"state = {Quote(state)}",
            // Snapshotters this host cannot run only slow the start down and log errors.
            "disabled_plugins = [\"io.containerd.snapshotter.v1.devmapper\", \"io.containerd.snapshotter.v1.btrfs\", \"io.containerd.snapshotter.v1.zfs\", \"io.containerd.snapshotter.v1.aufs\"]",
            "[grpc]",
            $"  address = {Quote(Address)}",
            "[debug]",
            "  level = \"debug\"",
            $"[{cri}]",
            // Offline: the pod sandbox image is one we imported, never pulled.
            $"  sandbox_image = {Quote(BusyboxOciImage.PauseReference)}",
            "  stream_server_address = \"127.0.0.1\"",
            "  stream_server_port = \"0\"",
            // CRI gives the pause process oom_score_adj -998; lowering it needs CAP_SYS_RESOURCE, which the build
            // hosts' containers withhold (runc then fails "can't get final child's PID"). Restricted, CRI clamps
            // it to containerd's own score. It changes nothing inside our VMs.
            "  restrict_oom_score_adj = true",
            $"[{cri}.containerd]",
            $"  snapshotter = {Quote(_options.Snapshotter)}",
            $"  default_runtime_name = {Quote(RuncHandler)}",
            $"[{cri}.containerd.runtimes.{RuncHandler}]",
            $"  runtime_type = {Quote(RuncRuntime)}",
        };
        if (_options.KataAgentRuntime)
        {
            string shim = ShimBinary;
            string bin = _directory.CreateDirectory("bin");
            File.CreateSymbolicLink(Path.Combine(bin, ShimBinaryName), shim);
            ShimTestConfiguration.Write(ShimConfigPath, ShimStateRoot, _options.ShimSettings);
            toml.AddRange(
            [
                $"[{cri}.containerd.runtimes.{KataAgentHandler}]",
                $"  runtime_type = {Quote(KataAgentRuntime)}",
                $"  runtime_path = {Quote(shim)}",
                // What Kata's handler sets too: the host's devices mean nothing inside a VM.
                "  privileged_without_host_devices = true",
                $"[{cri}.containerd.runtimes.{KataAgentHandler}.options]",
                $"  ConfigPath = {Quote(ShimConfigPath)}",
            ]);
        }
        if (Cni is not null)
        {
            toml.AddRange(
            [
                $"[{cri}.cni]",
                $"  bin_dir = {Quote(CniBridgeNetwork.PluginDirectory)}",
                $"  conf_dir = {Quote(Cni.ConfigDirectory)}",
                "  max_conf_num = 1",
            ]);
        }
        File.WriteAllLines(ConfigPath, toml);
    }
}
