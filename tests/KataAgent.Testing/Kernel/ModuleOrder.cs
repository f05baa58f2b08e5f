using FluentAssertions;
using KataAgent.Rootfs.Kernel;

namespace KataAgent.Testing.Kernel;

/// <summary>Checks on a module load order.</summary>
public static class ModuleOrder
{
    /// <summary>Every module comes after every module it depends on.</summary>
    public static void ShouldBeInDependencyOrder(IReadOnlyList<KernelModule> modules)
    {
        var position = modules.Select((m, i) => (m.Name, i)).ToDictionary(p => p.Name, p => p.i);
        foreach (var module in modules)
        {
            foreach (string dependency in module.Dependencies)
            {
                position.Should().ContainKey(dependency);
                position[dependency].Should().BeLessThan(position[module.Name], $"{module.Name} needs {dependency} loaded first");
            }
        }
        modules.Select(m => m.Name).Should().OnlyHaveUniqueItems();
    }
}
