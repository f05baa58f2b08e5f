using KataAgent.Host.Vm;

// Usage: KataAgent.VmStarter KERNEL INITRD STATE_DIRECTORY
// Starts a VM that is not detached, prints "qemu-pid N" once its agent answers, then waits to be killed:
// the tests SIGKILL this process and check that qemu does not outlive it.
if (args.Length != 3)
{
    Console.Error.WriteLine("usage: KataAgent.VmStarter KERNEL INITRD STATE_DIRECTORY");
    return 2;
}
var vm = await QemuVm.StartAsync(new QemuOptions { KernelPath = args[0], InitrdPath = args[1], StateDirectory = args[2], HotplugSlots = 0 });
Console.WriteLine($"qemu-pid {vm.ProcessId}");
Console.Out.Flush();
// Never disposed on purpose: the point is an owner that dies without cleaning up.
await Task.Delay(Timeout.Infinite);
return 0;
