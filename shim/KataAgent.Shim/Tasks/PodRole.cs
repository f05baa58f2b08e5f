namespace KataAgent.Shim.Tasks;

/// <summary>What a task is to its pod, from its spec's annotations (<see cref="PodGrouping"/>).</summary>
internal enum PodRole
{
    /// <summary>A container with no pod (<c>ctr run</c>): it boots its own VM and lives in it alone.</summary>
    Single,

    /// <summary>A pod's sandbox (CRI's "pause" container): the task is the pod's VM itself.</summary>
    Sandbox,

    /// <summary>A container of a pod: it joins the VM of its sandbox, whose shim serves it.</summary>
    PodContainer,
}
