using System.Collections;
using FluentAssertions;
using KataAgent.Shim.Cli;
using Xunit;

namespace KataAgent.Tests.Shim;

/// <summary>The shim's command line as containerd 1.6 and 1.7 pass it, parsed with Go's flag rules.</summary>
public sealed class ShimArgumentParserTests
{
    private static readonly IDictionary NoEnvironment = new Hashtable();

    private static ShimArguments Parse(string commandLine, IDictionary? environment = null, string cwd = "/run/ctd/io.containerd.runtime.v2.task/ns1/task1") =>
        ShimArgumentParser.Parse(commandLine.Split(' ', StringSplitOptions.RemoveEmptyEntries), environment ?? NoEnvironment, cwd);

    [Fact]
    public void Start_as_containerd_1_6_runs_it()
    {
        var environment = new Hashtable { ["TTRPC_ADDRESS"] = "/run/containerd/containerd.sock.ttrpc", ["GOMAXPROCS"] = "2" };
        var arguments = Parse("-namespace k8s.io -address /run/containerd/containerd.sock -publish-binary /usr/bin/containerd -id 0123abcd -debug start",
            environment, "/run/containerd/io.containerd.runtime.v2.task/k8s.io/0123abcd");

        arguments.Should().BeEquivalentTo(new ShimArguments
        {
            Namespace = "k8s.io",
            Id = "0123abcd",
            ContainerdAddress = "/run/containerd/containerd.sock",
            TtrpcAddress = "/run/containerd/containerd.sock.ttrpc",
            PublishBinary = "/usr/bin/containerd",
            Bundle = "/run/containerd/io.containerd.runtime.v2.task/k8s.io/0123abcd",
            Socket = null,
            Debug = true,
            Action = "start",
        });
    }

    [Fact]
    public void Delete_takes_the_bundle_flag_over_the_working_directory()
    {
        var arguments = Parse("-namespace default -address /a.sock -publish-binary /c -id t1 -bundle /state/default/t1 delete", cwd: "/elsewhere");

        arguments.Action.Should().Be("delete");
        arguments.Bundle.Should().Be("/state/default/t1");
        arguments.Debug.Should().BeFalse();
    }

    [Fact]
    public void The_daemon_has_no_action_word()
    {
        var arguments = Parse("-namespace default -id t1 -address /a.sock");

        arguments.Action.Should().BeEmpty();
        arguments.PublishBinary.Should().Be("containerd", "Go's default for -publish-binary");
        arguments.TtrpcAddress.Should().BeEmpty("CRI-O gives no TTRPC_ADDRESS");
    }

    [Theory]
    [InlineData("--namespace default --id t1 start")]
    [InlineData("-namespace=default -id=t1 start")]
    [InlineData("--namespace=default -id t1 -debug=false start")]
    [InlineData("-namespace default -id t1 -- start")]
    public void Go_flag_spellings_are_accepted(string commandLine)
    {
        var arguments = Parse(commandLine);

        arguments.Namespace.Should().Be("default");
        arguments.Id.Should().Be("t1");
        arguments.Action.Should().Be("start");
        arguments.Debug.Should().BeFalse();
    }

    [Fact]
    public void A_boolean_flag_takes_no_separate_value()
    {
        // Go reads "-debug false" as -debug and the action word "false".
        var act = () => Parse("-namespace default -id t1 -debug false");

        act.Should().Throw<ShimUsageException>().WithMessage("unknown action 'false'*");
    }

    [Fact]
    public void The_last_of_a_repeated_flag_wins()
    {
        Parse("-namespace a -namespace b -id t1").Namespace.Should().Be("b");
    }

    [Fact]
    public void Parsing_stops_at_the_first_word()
    {
        var arguments = Parse("-namespace default -id t1 start -bogus");

        arguments.Action.Should().Be("start");
    }

    [Theory]
    [InlineData("-id t1 start", "shim namespace cannot be empty (-namespace)")]
    [InlineData("-namespace default start", "-id is empty")]
    [InlineData("-namespace default -id t1 -foo start", "flag provided but not defined: -foo")]
    [InlineData("-namespace default -id", "flag needs an argument: -id")]
    [InlineData("-namespace default -id t1 -debug=maybe", "invalid boolean value \"maybe\" for -debug: parse error")]
    [InlineData("-namespace default ---id t1", "bad flag syntax: ---id")]
    [InlineData("-namespace default -id t1 stop", "unknown action 'stop'*")]
    [InlineData("-namespace default -id ../../etc start", "-id '../../etc' is not a containerd identifier*")]
    [InlineData("-namespace bad/ns -id t1 start", "-namespace 'bad/ns' is not a containerd identifier*")]
    public void Bad_command_lines_say_what_is_wrong(string commandLine, string message)
    {
        var act = () => Parse(commandLine);

        act.Should().Throw<ShimUsageException>().WithMessage(message).Which.HelpRequested.Should().BeFalse();
    }

    [Fact]
    public void An_id_longer_than_containerd_allows_is_refused()
    {
        var act = () => Parse($"-namespace default -id {new string('a', 77)} start");

        act.Should().Throw<ShimUsageException>().WithMessage("*longer than 76 characters");
        Parse($"-namespace default -id {new string('a', 76)} start").Id.Should().HaveLength(76);
    }

    [Fact]
    public void Help_is_a_request_not_an_error()
    {
        var act = () => Parse("-h");

        act.Should().Throw<ShimUsageException>().Which.HelpRequested.Should().BeTrue();
    }

    [Fact]
    public void Version_needs_nothing_else()
    {
        ShimArgumentParser.WantsVersion(["-v"]).Should().BeTrue();
        ShimArgumentParser.WantsVersion(["-namespace", "x", "-v=true"]).Should().BeTrue();
        ShimArgumentParser.WantsVersion(["-namespace", "x", "-id", "y", "start"]).Should().BeFalse();
    }

    [Fact]
    public void Socket_is_kept_and_a_relative_bundle_is_made_absolute()
    {
        var arguments = Parse("-namespace default -id t1 -socket /run/x.sock -bundle b1", cwd: "/state");

        arguments.Socket.Should().Be("/run/x.sock");
        arguments.Bundle.Should().Be("/state/b1");
    }
}
