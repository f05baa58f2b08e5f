using FluentAssertions;
using Grpc.Core;
using KataAgent.Agent.Devices;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Server;
using KataAgent.Agent.Storage;
using KataAgent.Protocols.Guest;
using KataAgent.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;
using ProtoStorage = KataAgent.Protocols.Agent.Storage;

namespace KataAgent.Tests.StorageDrivers;

/// <summary>
/// The virtio-fs storage driver's checks: Kata's CreateSandbox storage as Kata's runtime sends it passes, bad tags,
/// filesystem types, DAX and bind options are INVALID_ARGUMENT naming the field. The mount itself needs a virtio-fs
/// device, which only a guest has (the VM tests mount one); on the host the kernel's refusal is mapped to a clear error.
/// </summary>
[Collection(HostMountTableCollection.Name)]
public class VirtioFsStorageTests
{
    /// <summary>What Kata's runtime sends in CreateSandbox (kata_agent.go setupStorages).</summary>
    private static ProtoStorage KataShared() => new()
    {
        Driver = "virtio-fs",
        Source = "kataShared",
        Fstype = "virtiofs",
        MountPoint = "/run/kata-containers/shared/containers/",
    };

    [Fact]
    public void Katas_shared_storage_passes_and_the_layout_constants_are_katas()
    {
        GuestLayout.SharedDirectory.Should().Be("/run/kata-containers/shared/containers/");
        GuestLayout.SharedFsTag.Should().Be("kataShared");
        KataAgent.Agent.Storage.StorageDrivers.All.Should().Contain("virtio-fs");

        var validate = () => StorageManager.Validate([KataShared()], "storages");
        validate.Should().NotThrow();
        var noFstype = KataShared();
        noFstype.Fstype = "";
        noFstype.Options.Add("ro");
        noFstype.Options.Add("dax=never");
        var defaulted = () => StorageManager.Validate([noFstype], "storages");
        defaulted.Should().NotThrow("an empty fstype means virtiofs, and flags and dax=never are options the kernel takes");
    }

    [Theory]
    [InlineData("", "virtiofs", "storages[0].source")]
    [InlineData("a-tag-that-is-longer-than-36-bytes-xyz", "virtiofs", "storages[0].source")]
    [InlineData("tag\nnewline", "virtiofs", "storages[0].source")]
    [InlineData("kataShared", "fuse", "storages[0].fstype")]
    [InlineData("kataShared", "9p", "storages[0].fstype")]
    public void Bad_virtio_fs_storages_are_invalid_argument_naming_the_field(string source, string fstype, string field)
    {
        var storage = KataShared();
        storage.Source = source;
        storage.Fstype = fstype;
        AssertInvalid(storage, field);
    }

    [Theory]
    [InlineData("dax")]
    [InlineData("dax=always")]
    public void Dax_is_refused_with_the_reason(string option)
    {
        var storage = KataShared();
        storage.Options.Add(option);
        AssertInvalid(storage, "storages[0].options").Message.Should().Contain("DAX").And.Contain("cache-size");
    }

    [Theory]
    [InlineData("bind")]
    [InlineData("rbind")]
    [InlineData("remount")]
    [InlineData("rshared")]
    public void Bind_remount_and_propagation_options_make_no_sense_for_a_share(string option)
    {
        var storage = KataShared();
        storage.Options.Add(option);
        AssertInvalid(storage, "storages[0].options");
    }

    [Fact]
    public void A_share_may_be_mounted_only_under_the_run_directory()
    {
        var storage = KataShared();
        storage.MountPoint = "/mnt/shared/";
        AssertInvalid(storage, "storages[0].mount_point");
    }

    [Fact]
    public async Task Mounting_a_tag_no_device_has_names_the_storage_and_leaves_nothing_mounted()
    {
        var storage = new StorageManager(new PciSysfs("/sys"), "/dev", TimeSpan.FromSeconds(5), NullLogger.Instance);
        string parent = $"/run/kata-containers/virtiofs-test-{Guid.NewGuid():N}";
        string mountPoint = parent + "/shared/";
        var request = KataShared();
        request.Source = "noSuchTag";
        request.MountPoint = mountPoint;

        var mount = async () => await storage.MountAsync([request], "storages", CancellationToken.None);

        var error = (await mount.Should().ThrowAsync<AgentException>()).Which;
        bool kernelHasVirtiofs = File.ReadAllLines("/proc/filesystems").Any(l => l.EndsWith("\tvirtiofs", StringComparison.Ordinal));
        if (kernelHasVirtiofs)
        {
            AgentErrorMapping.CodeFor(error.Kind).Should().Be(StatusCode.InvalidArgument);
            error.Message.Should().StartWith("storages[0].source: ").And.Contain("no virtio-fs device has the tag 'noSuchTag'");
        }
        else
        {
            AgentErrorMapping.CodeFor(error.Kind).Should().Be(StatusCode.FailedPrecondition);
            error.Message.Should().StartWith("storages[0].fstype: ").And.Contain("virtiofs module");
        }
        storage.MountPoints.Should().BeEmpty();
        Directory.Exists(mountPoint).Should().BeFalse("the agent made the mount point and removes it again");
        Directory.Delete(parent);
    }

    private static AgentException AssertInvalid(ProtoStorage storage, string field)
    {
        var validate = () => StorageManager.Validate([storage], "storages");
        var error = validate.Should().Throw<AgentException>().Which;
        AgentErrorMapping.CodeFor(error.Kind).Should().Be(StatusCode.InvalidArgument);
        error.Message.Should().StartWith(field + ": ");
        return error;
    }
}
