namespace KataAgent.Host.Sandboxes;

/// <summary>What <see cref="Sandbox.AttachAsync"/> needs beyond the VM's own vm.json, kept as agent-sandbox.json in the state directory.</summary>
internal sealed record SandboxStateFile
{
    public required string Id { get; init; }

    public required string Hostname { get; init; }

    /// <summary>Whether CreateSandbox carried DNS lines: containers then get the guest's resolv.conf mounted.</summary>
    public bool HasDns { get; init; }

    /// <summary>How containers get their rootfs; files from before virtio-fs have none and were blk.</summary>
    [System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter<RootfsMode>))]
    public RootfsMode RootfsMode { get; init; } = RootfsMode.Blk;
}
