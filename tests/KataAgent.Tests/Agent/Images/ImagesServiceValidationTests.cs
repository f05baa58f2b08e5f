using FluentAssertions;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Server;
using KataAgent.Protocols.Extensions;
using Xunit;

namespace KataAgent.Tests.Agent.Images;

/// <summary>kataagent.v1.Images/PullImage's checks: every field before anything touches the filesystem, INVALID_ARGUMENT naming it.</summary>
public sealed class ImagesServiceValidationTests
{
    private static PullImageRequest Valid() => new() { ContainerId = "c1", Image = "10.0.0.2:5000/test/app:v1" };

    public static TheoryData<string, Action<PullImageRequest>> Bad() => new()
    {
        { "container_id", r => r.ContainerId = "../etc" },
        { "container_id", r => r.ContainerId = "" },
        { "image", r => r.Image = "" },
        { "image", r => r.Image = "busybox latest" },
        { "image", r => r.Image = "busy\nbox" },
        { "platform", r => r.Platform = "linux" },
        { "platform", r => r.Platform = "linux/amd64/v1/x" },
        { "credentials.password", r => r.Credentials = new RegistryCredentials { Username = "u", Password = "a\0b" } },
        { "ca_pem", r => r.CaPem = "not a certificate" },
        { "plain_http_registries[1]", r => r.PlainHttpRegistries.Add(["ok.example:5000", "http://x/y"]) },
        { "storage.block.pci_path", r => r.Storage = new ImageStorage { Block = new BlockStorage { PciPath = "../../sda" } } },
        { "env[0]", r => r.Env.Add("=value") },
        { "args[0]", r => r.Args.Add("a\0b") },
        { "user", r => r.User = "root user" },
        { "entrypoint", r => r.SetEntrypoint = true },
    };

    [Theory]
    [MemberData(nameof(Bad))]
    public void A_bad_field_is_invalid_argument_naming_it(string field, Action<PullImageRequest> spoil)
    {
        var request = Valid();
        spoil(request);

        var refusal = FluentActions.Invoking(() => ImagesService.Check(request)).Should().Throw<AgentException>().Which;

        refusal.Kind.Should().Be(AgentErrorKind.InvalidArgument);
        refusal.Field.Should().Be(field);
    }

    [Fact]
    public void A_good_request_becomes_the_helpers_with_the_overrides_docker_semantics_and_memory_storage_by_default()
    {
        var request = Valid();
        request.Platform = "linux/arm64/v8";
        request.Credentials = new RegistryCredentials { Username = "tester", Password = "s3cret" };
        request.CaPem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        request.PlainHttpRegistries.Add("10.0.0.2:5000");
        request.SetArgs = true;
        request.Env.Add("A=1");
        request.User = "1000:50";

        var (pull, storage) = ImagesService.Check(request);

        pull.Image.Should().Be(request.Image);
        pull.Platform.Should().Be("linux/arm64/v8");
        pull.Credentials!.Username.Should().Be("tester");
        pull.Credentials.Password.Should().Be("s3cret");
        pull.Credentials.IdentityToken.Should().BeNull();
        pull.Credentials.ToString().Should().NotContain("s3cret");
        pull.CaPem.Should().Be(request.CaPem);
        pull.PlainHttpRegistries.Should().Equal("10.0.0.2:5000");
        pull.Entrypoint.Should().BeNull("set_entrypoint is false: the image's entrypoint stays");
        pull.Args.Should().BeEmpty("set_args with none replaces the image's Cmd with nothing (Kubernetes' args: [])");
        pull.Env.Should().Equal("A=1");
        pull.User.Should().Be("1000:50");
        storage.PciPath.Should().BeNull();
        storage.MemoryLimitMiB.Should().Be(0);
    }

    [Fact]
    public void A_scratch_disk_is_named_by_its_pci_path()
    {
        var request = Valid();
        request.Storage = new ImageStorage { Block = new BlockStorage { PciPath = "12/00" } };

        ImagesService.Check(request).Storage.PciPath.Should().Be("12/00");
    }
}
