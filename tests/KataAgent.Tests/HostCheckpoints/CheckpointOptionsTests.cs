using FluentAssertions;
using KataAgent.Host.Checkpoints;
using KataAgent.Testing;
using Xunit;

namespace KataAgent.Tests.HostCheckpoints;

/// <summary>Checkpoint and restore options are checked before anything is touched, each error naming its option.</summary>
public sealed class CheckpointOptionsTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData(0)]
    [InlineData(20)]
    public void A_compression_level_out_of_range_is_refused(int level) =>
        FluentActions.Invoking(() => CheckpointValidation.Validate(new SandboxCheckpointOptions { CompressionLevel = level }))
            .Should().Throw<ArgumentException>().WithMessage($"CompressionLevel: {level} is not between 1 and 19*");

    [Fact]
    public void Restore_options_name_what_is_wrong()
    {
        string state = _temp.File("state");
        CheckpointValidation.Validate(new SandboxRestoreOptions { StateDirectory = state });

        FluentActions.Invoking(() => CheckpointValidation.Validate(new SandboxRestoreOptions { StateDirectory = state, Id = "../x" }))
            .Should().Throw<ArgumentException>().WithMessage("*Id*");
        FluentActions.Invoking(() => CheckpointValidation.Validate(new SandboxRestoreOptions { StateDirectory = state, AgentTimeout = TimeSpan.Zero }))
            .Should().Throw<ArgumentException>().WithMessage("AgentTimeout:*");
        FluentActions.Invoking(() => CheckpointValidation.Validate(new SandboxRestoreOptions { StateDirectory = state, NetworkNamespacePath = _temp.File("no-netns") }))
            .Should().Throw<ArgumentException>().WithMessage("NetworkNamespacePath:*does not exist*");
        Directory.CreateDirectory(state);
        File.WriteAllText(Path.Combine(state, "x"), "");
        FluentActions.Invoking(() => CheckpointValidation.Validate(new SandboxRestoreOptions { StateDirectory = state }))
            .Should().Throw<ArgumentException>().WithMessage("StateDirectory:*is not empty*");
    }
}
