namespace KataAgent.Host.Vm;

/// <summary>A hot-plugged DIMM (<see cref="QemuVm.QueryDimmsAsync"/>).</summary>
/// <param name="Id">Its device id (what <see cref="QemuVm.AddMemoryAsync"/> returned, and <see cref="QemuVm.RemoveMemoryAsync"/> takes).</param>
/// <param name="Backend">Its memory backend object's id.</param>
/// <param name="SizeMiB">Its size.</param>
public sealed record QemuDimm(string Id, string Backend, int SizeMiB);
