namespace KataAgent.Host.Sandboxes;

/// <summary>What the guest is asked to do in the middle of a resize (see <see cref="Sandbox.ResizeCoreAsync"/>).</summary>
/// <param name="Cpus">vCPUs to have online afterwards: the hot-plugged ones onlined up to it, any above it offlined.</param>
/// <param name="CpusPlugged">vCPUs were plugged that the guest has not onlined yet.</param>
/// <param name="MemoryPlugged">A DIMM was plugged that the guest has not onlined yet.</param>
internal sealed record SandboxResizeStep(int Cpus, bool CpusPlugged, bool MemoryPlugged);
