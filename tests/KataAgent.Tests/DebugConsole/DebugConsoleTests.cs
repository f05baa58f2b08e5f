using FluentAssertions;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.DebugConsole;

/// <summary>
/// The debug console of out/kata-agent running stand-alone as root: on a virtio-serial port played
/// by <see cref="FakeVirtioSerialPort"/> (one shell, respawned, surviving reconnects), and on a
/// listening socket (a shell per connection — vsock in a guest, unix here, same code).
/// </summary>
public class DebugConsoleTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Serial_console_runs_commands_on_a_controlling_terminal_survives_reconnects_and_respawns_the_shell()
    {
        using var portDirectory = new TempDirectory();
        await using var port = new FakeVirtioSerialPort(portDirectory);
        await using var agent = StartAgent($"serial://{port.DevicePath}");

        string firstShell;
        await using (var console = await TextSocketSession.ConnectAsync(port.ChardevSocketPath, Wait))
        {
            await console.SendAsync("echo $((6*7))\n");
            await WaitOrExplain(console, agent, "(?<![0-9])42\r?$");
            await console.SendAsync("echo \"E\"\"=$TERM:$HOME:$PATH:$PWD\"\n");
            (await WaitOrExplain(console, agent, @"E=(\S*)\r?$")).Groups[1].Value.Should().Be("vt100:/:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/");
            // /proc/PID/stat: pid (comm) state ppid pgrp session tty_nr … — a session leader with a terminal.
            await console.SendAsync("read -r p c s pp pg sid tty rest < /proc/$$/stat; echo \"S\"\"=$((sid == p)):$((tty != 0))\"\n");
            (await WaitOrExplain(console, agent, @"S=(\d:\d)\r?$")).Groups[1].Value.Should().Be("1:1");
            await console.SendAsync("echo \"P\"\"=$$\"\n");
            firstShell = (await WaitOrExplain(console, agent, @"P=(\d+)\r?$")).Groups[1].Value;
        }

        // The host end goes away and comes back: the same shell is still there.
        await using (var console = await TextSocketSession.ConnectAsync(port.ChardevSocketPath, Wait))
        {
            await console.SendAsync("echo \"P\"\"=$$\"\n");
            (await WaitOrExplain(console, agent, @"P=(\d+)\r?$")).Groups[1].Value.Should().Be(firstShell);

            // The shell exits: a new one takes its place on the same port.
            // Input sent before the old shell is gone would go to it; the agent says when it is.
            await console.SendAsync("exit\n");
            await WaitForAgentOutput(agent, "exited; starting a new one");
            await console.SendAsync("echo \"P\"\"=$$\"\n");
            (await WaitOrExplain(console, agent, @"P=(\d+)\r?$")).Groups[1].Value.Should().NotBe(firstShell);
            await console.SendAsync("echo $((6*7))\n");
            await WaitOrExplain(console, agent, "(?<![0-9])42\r?$");
        }
        port.Connections.Should().Be(2);
    }

    [Fact]
    public async Task Listening_console_gives_each_connection_its_own_shell()
    {
        using var directory = new TempDirectory();
        string socket = directory.File("console.sock");
        await using var agent = StartAgent($"unix://{socket}");

        string firstShell;
        await using (var console = await TextSocketSession.ConnectAsync(socket, Wait))
        {
            await console.SendAsync("echo $((6*7))\n");
            await WaitOrExplain(console, agent, "(?<![0-9])42\r?$");
            await console.SendAsync("echo \"P\"\"=$$\"\n");
            firstShell = (await WaitOrExplain(console, agent, @"P=(\d+)\r?$")).Groups[1].Value;
        }
        await using (var console = await TextSocketSession.ConnectAsync(socket, Wait))
        {
            await console.SendAsync("echo \"P\"\"=$$\"\n");
            (await WaitOrExplain(console, agent, @"P=(\d+)\r?$")).Groups[1].Value.Should().NotBe(firstShell);
        }
        // The first connection's shell was hung up when its connection closed.
        for (int i = 0; i < 100 && Directory.Exists($"/proc/{firstShell}"); i++)
        {
            await Task.Delay(50);
        }
        Directory.Exists($"/proc/{firstShell}").Should().BeFalse();
    }

    [Fact]
    public async Task A_console_address_that_is_not_serial_vsock_or_unix_is_refused_at_start()
    {
        await using var agent = AgentProcess.Start("unix:///nonexistent", ["--server-addr", "unix:///tmp/ka-never.sock", "--debug-console", "tcp://127.0.0.1:9"]);
        (await agent.WaitForExitAsync(Wait)).Should().Be(2);
        agent.Output.Should().Contain("--debug-console: tcp://127.0.0.1:9 is not one of serial://, vsock://, unix://");
    }

    private static async Task WaitForAgentOutput(AgentProcess agent, string text)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!agent.Output.Contains(text))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"the agent did not log '{text}'; it logged:\n{agent.Output}");
            }
            await Task.Delay(50);
        }
    }

    private static AgentProcess StartAgent(string consoleAddress)
    {
        var api = new TempDirectory();
        string address = $"unix://{api.File("agent.sock")}";
        return AgentProcess.Start(address, ["--server-addr", address, "--log", "debug", "--debug-console", consoleAddress]);
    }

    private static async Task<System.Text.RegularExpressions.Match> WaitOrExplain(TextSocketSession console, AgentProcess agent, string pattern)
    {
        try
        {
            return await console.WaitForAsync(pattern, Wait);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message}\nagent output:\n{agent.Output}", e);
        }
    }
}
