using FluentAssertions;
using KataAgent.Shim.Tasks;
using Xunit;

namespace KataAgent.Tests.Shim.Tasks;

public sealed class PodGroupingTests
{
    [Fact]
    public void No_CRI_annotations_make_a_lone_container()
    {
        PodGrouping.Classify(new Dictionary<string, string> { ["other"] = "x" }, "c1").Should().Be((PodRole.Single, "c1"));
    }

    [Fact]
    public void Containerd_CRI_sandbox_and_container_are_told_apart_and_the_container_names_its_sandbox()
    {
        PodGrouping.Classify(new Dictionary<string, string> { [PodGrouping.CriContainerType] = "sandbox", [PodGrouping.CriSandboxId] = "pod1" }, "pod1")
            .Should().Be((PodRole.Sandbox, "pod1"));
        PodGrouping.Classify(new Dictionary<string, string> { [PodGrouping.CriContainerType] = "container", [PodGrouping.CriSandboxId] = "pod1" }, "c1")
            .Should().Be((PodRole.PodContainer, "pod1"));
    }

    [Fact]
    public void CRI_O_annotations_group_as_well_and_containerd_s_come_first()
    {
        PodGrouping.Classify(new Dictionary<string, string> { [PodGrouping.CriOContainerType] = "container", [PodGrouping.CriOSandboxId] = "crio-pod" }, "c1")
            .Should().Be((PodRole.PodContainer, "crio-pod"));
        PodGrouping.Classify(new Dictionary<string, string>
        {
            [PodGrouping.CriContainerType] = "sandbox",
            [PodGrouping.CriOContainerType] = "container",
            [PodGrouping.CriOSandboxId] = "other",
        }, "pod1").Should().Be((PodRole.Sandbox, "pod1"));
    }

    [Fact]
    public void A_container_without_its_sandbox_id_or_an_unknown_type_is_refused_naming_the_annotation()
    {
        var missing = () => PodGrouping.Classify(new Dictionary<string, string> { [PodGrouping.CriContainerType] = "container" }, "c1");
        missing.Should().Throw<TaskException>().Where(e => e.Kind == TaskErrorKind.InvalidArgument && e.Message.Contains(PodGrouping.CriSandboxId));
        var unknown = () => PodGrouping.Classify(new Dictionary<string, string> { [PodGrouping.CriContainerType] = "pause" }, "c1");
        unknown.Should().Throw<TaskException>().Where(e => e.Message.Contains(PodGrouping.CriContainerType) && e.Message.Contains("'pause'"));
    }
}
