using CliWrap.Buffered;
using FluentAssertions;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Kactl;

/// <summary>
/// kactl console against a fake console socket, with a pty as kactl's terminal (the test types on
/// the master side): raw mode while attached, keys and output passed through, Ctrl-] detaches
/// without being sent, and the terminal's settings are restored however the session ends.
/// </summary>
public sealed class KactlConsoleTests
{
    private const int ICANON = 0x2;
    private const int ECHO = 0x8;

    [Fact]
    public async Task Typed_keys_reach_the_console_output_comes_back_and_ctrl_bracket_detaches_restoring_the_terminal()
    {
        using var runDirectory = new TempDirectory();
        await using var sandbox = await FakeSandbox.CreateAsync(runDirectory, "c0n50le0", running: true);
        await using var server = new FakeConsoleServer(Path.Combine(sandbox.Directory, "console.sock"));
        await using var terminal = new PtyTerminal();
        var before = terminal.LocalFlags();

        var kactl = terminal.Run(runDirectory, "console", "c0n5");
        await terminal.WaitForOutputAsync("Ctrl-] detaches", kactl);
        int rawFlags = terminal.LocalFlags();
        terminal.Type("echo hi\r");
        await terminal.WaitForOutputAsync(FakeConsoleServer.Reply, kactl);
        terminal.Type("\x1d");
        var result = await kactl.WaitAsync(TimeSpan.FromSeconds(30));

        result.ExitCode.Should().Be(0, terminal.Output);
        await terminal.WaitForOutputAsync("kactl: detached from sandbox 'c0n50le0'");
        (rawFlags & (ICANON | ECHO)).Should().Be(0, "the terminal is raw while attached: no line editing, no local echo");
        terminal.LocalFlags().Should().Be(before, "the terminal's own settings are back");
        server.Received.Should().Be("echo hi\r", "the detach key is kactl's, not the guest's");
        terminal.Output.Should().Contain("kactl: connected to the debug console of sandbox 'c0n50le0'; Ctrl-] detaches\r\n");
        await server.Finished.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task A_console_closed_by_the_vm_ends_with_exit_1_and_the_terminal_restored()
    {
        using var runDirectory = new TempDirectory();
        await using var sandbox = await FakeSandbox.CreateAsync(runDirectory, "c105ed00", running: true);
        await using var server = new FakeConsoleServer(Path.Combine(sandbox.Directory, "console.sock"), closeAfterFirstLine: true);
        await using var terminal = new PtyTerminal();
        var before = terminal.LocalFlags();

        var kactl = terminal.Run(runDirectory, "console", "c105ed00");
        await terminal.WaitForOutputAsync("Ctrl-] detaches", kactl);
        terminal.Type("poweroff\r");
        var result = await kactl.WaitAsync(TimeSpan.FromSeconds(30));

        result.ExitCode.Should().Be(1, terminal.Output);
        await terminal.WaitForOutputAsync("kactl: the debug console of sandbox 'c105ed00' closed (the VM stopped?)");
        terminal.LocalFlags().Should().Be(before);
    }

    [Fact]
    public async Task Piped_input_is_sent_and_its_end_detaches()
    {
        using var runDirectory = new TempDirectory();
        await using var sandbox = await FakeSandbox.CreateAsync(runDirectory, "p1ped000", running: true);
        await using var server = new FakeConsoleServer(Path.Combine(sandbox.Directory, "console.sock"));

        var result = await KactlRunner.RunAsync(["console", "p1ped000"], standardInput: "uname -r\n",
            environment: new Dictionary<string, string?> { ["KACTL_RUN_DIR"] = runDirectory.Path });
        await server.Finished.WaitAsync(TimeSpan.FromSeconds(30));

        result.ExitCode.Should().Be(0, KactlRunner.Describe(result));
        server.Received.Should().Be("uname -r\n");
        result.StandardError.Should().Contain("end of input: detached from sandbox 'p1ped000'");
    }

    [Fact]
    public async Task The_console_of_a_vsock_sandbox_is_vsock_port_1026_through_its_hybrid_socket()
    {
        using var runDirectory = new TempDirectory();
        await using var sandbox = await FakeSandbox.CreateAsync(runDirectory, "h0vs0ck0", running: true, vsockDevice: "VhostUser");
        await using var server = new FakeConsoleServer(Path.Combine(sandbox.Directory, "vsock.sock"), hybridVsockPort: 1026);

        var result = await KactlRunner.RunAsync(["console", "h0vs0ck0"], standardInput: "uname -r\n",
            environment: new Dictionary<string, string?> { ["KACTL_RUN_DIR"] = runDirectory.Path });
        await server.Finished.WaitAsync(TimeSpan.FromSeconds(30));

        result.ExitCode.Should().Be(0, KactlRunner.Describe(result));
        server.ConnectLine.Should().Be("CONNECT 1026");
        server.Received.Should().Be("uname -r\n", "after the handshake the socket is the console's byte stream");
        File.Exists(Path.Combine(sandbox.Directory, "console.sock")).Should().BeFalse("a vsock VM has no serial console socket");
    }

    [Fact]
    public async Task A_running_sandbox_without_a_console_socket_is_a_clear_error()
    {
        using var runDirectory = new TempDirectory();
        await using var sandbox = await FakeSandbox.CreateAsync(runDirectory, "n0c0n500", running: true);

        var result = await KactlRunner.RunAsync(["console", "n0c0n500"], environment: new Dictionary<string, string?> { ["KACTL_RUN_DIR"] = runDirectory.Path });

        result.ExitCode.Should().Be(1, KactlRunner.Describe(result));
        result.StandardError.Should().StartWith($"kactl: cannot connect to the debug console of sandbox 'n0c0n500' at serial://{Path.Combine(sandbox.Directory, "console.sock")}: ");
    }
}
