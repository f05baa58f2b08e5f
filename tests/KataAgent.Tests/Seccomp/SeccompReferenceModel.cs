using KataAgent.Helpers.Seccomp;

namespace KataAgent.Tests.Seccomp;

/// <summary>
/// The documented semantics written as plain C#, to check compiled programs against:
/// arch admission, first matching rule in profile order, rules equal to the default dropped
/// (runc), repeated argument indexes ORed (runc), 32-bit ABIs comparing low words only
/// (libseccomp), and runc's -ENOSYS for numbers above the highest named syscall.
/// </summary>
internal static class SeccompReferenceModel
{
    public const uint AuditArchX86_64 = 0xC000003E;
    public const uint AuditArchI386 = 0x40000003;
    public const uint AuditArchAarch64 = 0xC00000B7;
    public const uint X32Bit = 0x40000000;

    public static uint Evaluate(SeccompProfile profile, SeccompArchitecture machine, SeccompData data, bool enosys = true)
    {
        SeccompArchitecture abi;
        if (machine == SeccompArchitecture.X86_64 && data.Arch == AuditArchX86_64)
        {
            if (data.Nr >= X32Bit)
            {
                if (!profile.Architectures.Contains(SeccompArchitecture.X32))
                {
                    return SeccompReturnValues.KillProcess;
                }
                abi = SeccompArchitecture.X32;
            }
            else
            {
                abi = SeccompArchitecture.X86_64;
            }
        }
        else if (machine == SeccompArchitecture.X86_64 && data.Arch == AuditArchI386
                 && profile.Architectures.Contains(SeccompArchitecture.X86))
        {
            abi = SeccompArchitecture.X86;
        }
        else if (machine == SeccompArchitecture.Aarch64 && data.Arch == AuditArchAarch64)
        {
            abi = SeccompArchitecture.Aarch64;
        }
        else
        {
            return SeccompReturnValues.KillProcess;
        }

        var wide = abi is SeccompArchitecture.X86_64 or SeccompArchitecture.Aarch64;
        var defaultRet = SeccompReturnValues.For(profile.DefaultAction, profile.DefaultErrnoRet);
        long highest = -1;
        foreach (var rule in profile.Rules)
        {
            foreach (var name in rule.Names)
            {
                if (SeccompSyscalls.TryGetNumber(abi, name, out var number))
                {
                    highest = Math.Max(highest, number);
                }
            }
        }

        foreach (var rule in profile.Rules)
        {
            var ret = SeccompReturnValues.For(rule.Action, rule.ErrnoRet);
            if (ret == defaultRet || !rule.Names.Any(n => SeccompSyscalls.TryGetNumber(abi, n, out var nr) && nr == data.Nr))
            {
                continue;
            }
            var repeated = rule.Args.GroupBy(a => a.Index).Any(g => g.Count() > 1);
            var holds = rule.Args.Count == 0
                || (repeated ? rule.Args.Any(a => Holds(a, data, wide)) : rule.Args.All(a => Holds(a, data, wide)));
            if (holds)
            {
                return ret;
            }
        }

        var allowLike = profile.DefaultAction is SeccompAction.Allow or SeccompAction.Log or SeccompAction.Trace;
        if (enosys && !allowLike && highest >= 0 && data.Nr > highest)
        {
            return SeccompReturnValues.ErrnoEnosys;
        }
        return defaultRet;
    }

    public static bool Holds(SeccompArgCondition condition, SeccompData data, bool wide)
    {
        var arg = data.Args[condition.Index];
        var value = condition.Value;
        var two = condition.ValueTwo;
        if (!wide)
        {
            arg = (uint)arg;
            value = (uint)value;
            two = (uint)two;
        }
        return condition.Operator switch
        {
            SeccompOperator.NotEqual => arg != value,
            SeccompOperator.LessThan => arg < value,
            SeccompOperator.LessOrEqual => arg <= value,
            SeccompOperator.Equal => arg == value,
            SeccompOperator.GreaterOrEqual => arg >= value,
            SeccompOperator.GreaterThan => arg > value,
            SeccompOperator.MaskedEqual => (arg & value) == two,
            _ => throw new ArgumentOutOfRangeException(nameof(condition)),
        };
    }
}
