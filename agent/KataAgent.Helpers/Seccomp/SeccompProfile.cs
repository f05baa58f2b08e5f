namespace KataAgent.Helpers.Seccomp;

/// <summary>
/// A validated OCI <c>linux.seccomp</c> object, independent of the protobuf types. Build it with
/// <see cref="FromOci"/> from the OCI strings, then compile it with <see cref="SeccompCompiler"/>.
/// </summary>
/// <param name="DefaultAction">Action for every syscall no rule matches.</param>
/// <param name="DefaultErrnoRet">Errno of a default ERRNO/TRACE action; null means EPERM.</param>
/// <param name="Architectures">Extra ABIs to admit; the native one is always admitted (as libseccomp does).</param>
/// <param name="Flags">Flags for seccomp(SECCOMP_SET_MODE_FILTER); passed to the kernel as given (less WAIT_KILLABLE_RECV).</param>
/// <param name="Rules">The syscall rules in profile order; for one syscall the first matching rule wins.</param>
public sealed record SeccompProfile(
    SeccompAction DefaultAction,
    uint? DefaultErrnoRet,
    IReadOnlyList<SeccompArchitecture> Architectures,
    SeccompFilterFlags Flags,
    IReadOnlyList<SeccompRule> Rules)
{
    /// <summary>Highest argument index a syscall has (six arguments).</summary>
    public const int MaxArgIndex = 5;

    /// <summary>
    /// Parses the OCI spellings. Throws <see cref="SeccompException"/> naming the bad field
    /// (e.g. "syscalls[3].action: unknown action 'SCMP_ACT_FOO'").
    /// </summary>
    /// <param name="defaultAction">LinuxSeccomp.DefaultAction, an SCMP_ACT_* name.</param>
    /// <param name="defaultErrnoRet">The OCI defaultErrnoRet when present (Kata's proto has none: pass null).</param>
    /// <param name="architectures">LinuxSeccomp.Architectures, SCMP_ARCH_* names.</param>
    /// <param name="flags">LinuxSeccomp.Flags, SECCOMP_FILTER_FLAG_* names.</param>
    /// <param name="syscalls">LinuxSeccomp.Syscalls.</param>
    public static SeccompProfile FromOci(
        string defaultAction,
        uint? defaultErrnoRet,
        IEnumerable<string>? architectures,
        IEnumerable<string>? flags,
        IEnumerable<SeccompOciSyscall>? syscalls)
    {
        var action = SeccompOciNames.ParseAction(defaultAction, "defaultAction");
        CheckErrno(action, defaultErrnoRet, "defaultErrnoRet");

        var arches = new List<SeccompArchitecture>();
        var index = 0;
        foreach (var name in architectures ?? [])
        {
            var arch = SeccompOciNames.ParseArchitecture(name, $"architectures[{index++}]");
            if (!arches.Contains(arch))
            {
                arches.Add(arch);
            }
        }

        var flagBits = SeccompFilterFlags.None;
        index = 0;
        foreach (var name in flags ?? [])
        {
            flagBits |= SeccompOciNames.ParseFlag(name, $"flags[{index++}]");
        }

        var rules = new List<SeccompRule>();
        index = 0;
        foreach (var syscall in syscalls ?? [])
        {
            var field = $"syscalls[{index++}]";
            if (syscall is null)
            {
                throw new SeccompException(field, "null entry");
            }
            var ruleAction = SeccompOciNames.ParseAction(syscall.Action, field + ".action");
            CheckErrno(ruleAction, syscall.ErrnoRet, field + ".errnoRet");

            var names = new List<string>();
            var n = 0;
            foreach (var name in syscall.Names ?? [])
            {
                if (string.IsNullOrEmpty(name))
                {
                    throw new SeccompException($"{field}.names[{n}]", "empty syscall name");
                }
                names.Add(name);
                n++;
            }

            var args = new List<SeccompArgCondition>();
            var a = 0;
            foreach (var arg in syscall.Args ?? [])
            {
                var argField = $"{field}.args[{a++}]";
                if (arg is null)
                {
                    throw new SeccompException(argField, "null entry");
                }
                if (arg.Index > MaxArgIndex)
                {
                    throw new SeccompException(argField + ".index", $"{arg.Index} is out of range 0..{MaxArgIndex}");
                }
                var op = SeccompOciNames.ParseOperator(arg.Op, argField + ".op");
                args.Add(new SeccompArgCondition((int)arg.Index, op, arg.Value, arg.ValueTwo));
            }

            rules.Add(new SeccompRule(names, ruleAction, syscall.ErrnoRet, args));
        }

        return new SeccompProfile(action, defaultErrnoRet, arches, flagBits, rules);
    }

    /// <summary>Checks the numeric ranges a hand-built profile could get wrong; names the field like <see cref="FromOci"/>.</summary>
    public void Validate()
    {
        CheckErrno(DefaultAction, DefaultErrnoRet, "defaultErrnoRet");
        for (var r = 0; r < Rules.Count; r++)
        {
            var rule = Rules[r] ?? throw new SeccompException($"syscalls[{r}]", "null entry");
            CheckErrno(rule.Action, rule.ErrnoRet, $"syscalls[{r}].errnoRet");
            for (var n = 0; n < rule.Names.Count; n++)
            {
                if (string.IsNullOrEmpty(rule.Names[n]))
                {
                    throw new SeccompException($"syscalls[{r}].names[{n}]", "empty syscall name");
                }
            }
            for (var a = 0; a < rule.Args.Count; a++)
            {
                var arg = rule.Args[a] ?? throw new SeccompException($"syscalls[{r}].args[{a}]", "null entry");
                if (arg.Index is < 0 or > MaxArgIndex)
                {
                    throw new SeccompException($"syscalls[{r}].args[{a}].index", $"{arg.Index} is out of range 0..{MaxArgIndex}");
                }
                if (!Enum.IsDefined(arg.Operator))
                {
                    throw new SeccompException($"syscalls[{r}].args[{a}].op", $"unknown operator {(int)arg.Operator}");
                }
            }
            if (!Enum.IsDefined(rule.Action))
            {
                throw new SeccompException($"syscalls[{r}].action", $"unknown action {(int)rule.Action}");
            }
        }
        if (!Enum.IsDefined(DefaultAction))
        {
            throw new SeccompException("defaultAction", $"unknown action {(int)DefaultAction}");
        }
    }

    // The errno travels in SECCOMP_RET_DATA, 16 bits; a bigger value would spill into the action
    // bits and turn ERRNO into another action, so refuse it (runc would silently truncate).
    private static void CheckErrno(SeccompAction action, uint? errno, string field)
    {
        if (errno is > SeccompReturnValues.DataMask && action is SeccompAction.Errno or SeccompAction.Trace)
        {
            throw new SeccompException(field, $"{errno} does not fit in SECCOMP_RET_DATA (0..65535)");
        }
    }
}
