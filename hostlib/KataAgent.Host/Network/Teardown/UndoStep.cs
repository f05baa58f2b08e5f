using System.Text.Json.Serialization;

namespace KataAgent.Host.Network.Teardown;

/// <summary>
/// One change an endpoint made to the pod's netns, described by the way back rather than by a closure, so
/// that it can be written to the sandbox's teardown journal and undone by another process (a detached
/// sandbox removed by a later <c>kactl rm</c>, or one whose owner died). Every step is idempotent: undoing
/// something already undone, or already gone with the netns, does nothing, so a teardown that failed
/// half-way can simply be run again.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "step")]
[JsonDerivedType(typeof(DeleteLinkStep), "deleteLink")]
[JsonDerivedType(typeof(DeleteIngressQdiscStep), "deleteIngressQdisc")]
[JsonDerivedType(typeof(RestoreLinkAddressStep), "restoreLinkAddress")]
[JsonDerivedType(typeof(RestoreNeighboursStep), "restoreNeighbours")]
[JsonDerivedType(typeof(RestoreRoutesStep), "restoreRoutes")]
[JsonDerivedType(typeof(RestoreAddressStep), "restoreAddress")]
[JsonDerivedType(typeof(SetLinkDownStep), "setLinkDown")]
[JsonDerivedType(typeof(StopPasstStep), "stopPasst")]
[JsonDerivedType(typeof(RestorePingGroupRangeStep), "restorePingGroupRange")]
[JsonDerivedType(typeof(DeleteDirectoryStep), "deleteDirectory")]
internal abstract record UndoStep
{
    /// <summary>What undoing does, for error messages ("delete tap tap0_kata").</summary>
    public abstract string Describe();

    /// <summary>Undoes the change in <paramref name="context"/>'s netns.</summary>
    public abstract void Undo(UndoContext context);
}
