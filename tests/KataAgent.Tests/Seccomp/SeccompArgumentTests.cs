using FluentAssertions;
using KataAgent.Helpers.Seccomp;
using Xunit;
using static KataAgent.Tests.Seccomp.SeccompTestProfiles;

namespace KataAgent.Tests.Seccomp;

/// <summary>
/// Every operator on 64-bit arguments around the 32-bit boundary, against plain C# comparisons:
/// a filter that compared only one word, or the words in the wrong order, fails here.
/// </summary>
public class SeccompArgumentTests
{
    private static readonly ulong[] Boundary =
    [
        0, 1, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
        0x1_0000_0000, 0x1_0000_0001, 0x1_ffff_ffff, 0x2_0000_0000,
        0xffff_ffff_0000_0000, 0xffff_ffff_0000_0001, 0x8000_0000_0000_0000,
        0xffff_ffff_ffff_fffe, ulong.MaxValue,
    ];

    public static TheoryData<SeccompOperator> Operators() =>
    [
        SeccompOperator.NotEqual, SeccompOperator.LessThan, SeccompOperator.LessOrEqual, SeccompOperator.Equal,
        SeccompOperator.GreaterOrEqual, SeccompOperator.GreaterThan,
    ];

    [Theory]
    [MemberData(nameof(Operators))]
    public void Comparison_of_64_bit_values_matches_unsigned_arithmetic(SeccompOperator op)
    {
        foreach (var index in new[] { 0, 3, 5 })
        {
            foreach (var value in Boundary)
            {
                var filter = CompileX86_64(Profile(SeccompAction.Errno,
                    Rule("mkdir", SeccompAction.Allow, null, new SeccompArgCondition(index, op, value))));
                foreach (var arg in Boundary)
                {
                    var args = new ulong[6];
                    args[index] = arg;
                    var expected = op switch
                    {
                        SeccompOperator.NotEqual => arg != value,
                        SeccompOperator.LessThan => arg < value,
                        SeccompOperator.LessOrEqual => arg <= value,
                        SeccompOperator.Equal => arg == value,
                        SeccompOperator.GreaterOrEqual => arg >= value,
                        _ => arg > value,
                    };
                    filter.X64(NrMkdir, args).Should().Be(expected ? SeccompReturnValues.Allow : Errno(Eperm),
                        $"args[{index}] = 0x{arg:x} {op} 0x{value:x}");
                }
            }
        }
    }

    [Fact]
    public void Boundary_pairs_named_in_the_brief()
    {
        var lessThan = CompileX86_64(Profile(SeccompAction.Errno,
            Rule("mkdir", SeccompAction.Allow, null, new SeccompArgCondition(0, SeccompOperator.LessThan, 0x1_0000_0000))));
        lessThan.X64(NrMkdir, 0xffffffff).Should().Be(SeccompReturnValues.Allow);
        lessThan.X64(NrMkdir, 0x1_0000_0000).Should().Be(Errno(Eperm));

        // Equal high words, different low words.
        var equal = CompileX86_64(Profile(SeccompAction.Errno,
            Rule("mkdir", SeccompAction.Allow, null, new SeccompArgCondition(0, SeccompOperator.Equal, 0x1_0000_0005))));
        equal.X64(NrMkdir, 0x1_0000_0005).Should().Be(SeccompReturnValues.Allow);
        equal.X64(NrMkdir, 0x1_0000_0006).Should().Be(Errno(Eperm));
        equal.X64(NrMkdir, 0x0_0000_0005).Should().Be(Errno(Eperm), "same low word, different high word");
    }

    [Fact]
    public void Masked_equal_uses_value_as_mask_and_value_two_as_result()
    {
        // Docker's clone rule: allow unless a namespace flag (CLONE_NEW*) is set.
        const ulong cloneNewMask = 0x7E020000;
        var filter = CompileX86_64(Profile(SeccompAction.Errno,
            Rule("clone", SeccompAction.Allow, null, new SeccompArgCondition(0, SeccompOperator.MaskedEqual, cloneNewMask, 0))));
        filter.X64(NrClone, 0x01200011).Should().Be(SeccompReturnValues.Allow); // SIGCHLD|CLONE_CHILD_SETTID|...
        filter.X64(NrClone, 0x00020000).Should().Be(Errno(Eperm));              // CLONE_NEWNS
        filter.X64(NrClone, 0x1_0000_0000).Should().Be(SeccompReturnValues.Allow, "high bits are outside the mask");

        var masks = new ulong[] { 0, 0xff, 0xffffffff, 0xffff_ffff_0000_0000, 0x1_0000_00ff, ulong.MaxValue };
        foreach (var mask in masks)
        {
            foreach (var expectedValue in Boundary)
            {
                var masked = CompileX86_64(Profile(SeccompAction.Errno,
                    Rule("mkdir", SeccompAction.Allow, null, new SeccompArgCondition(2, SeccompOperator.MaskedEqual, mask, expectedValue))));
                foreach (var arg in Boundary)
                {
                    masked.X64(NrMkdir, 0, 0, arg).Should().Be((arg & mask) == expectedValue ? SeccompReturnValues.Allow : Errno(Eperm),
                        $"(0x{arg:x} & 0x{mask:x}) == 0x{expectedValue:x}");
                }
            }
        }
    }

    [Fact]
    public void Thirty_two_bit_abis_compare_low_words_only()
    {
        // libseccomp treats i386 and x32 arguments as 32-bit: the high half of the datum is ignored.
        var profile = Profile(SeccompAction.Errno,
                Rule("mkdir", SeccompAction.Allow, null, new SeccompArgCondition(1, SeccompOperator.Equal, 0x1_0000_01ed)))
            .WithArches(SeccompArchitecture.X86_64, SeccompArchitecture.X86, SeccompArchitecture.X32);
        var filter = CompileX86_64(profile);
        filter(SeccompData.Of(SeccompReferenceModel.AuditArchI386, 39, 0, 0x1ed)).Should().Be(SeccompReturnValues.Allow);
        filter.X64(0x40000000 | NrMkdir, 0, 0x1ed).Should().Be(SeccompReturnValues.Allow);
        filter.X64(NrMkdir, 0, 0x1ed).Should().Be(Errno(Eperm), "x86_64 compares all 64 bits");
        filter.X64(NrMkdir, 0, 0x1_0000_01ed).Should().Be(SeccompReturnValues.Allow);
    }
}
