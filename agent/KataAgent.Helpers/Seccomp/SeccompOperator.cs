namespace KataAgent.Helpers.Seccomp;

/// <summary>
/// Comparison of one 64-bit syscall argument with a constant (the OCI <c>SCMP_CMP_*</c> names).
/// All comparisons are unsigned, as in libseccomp.
/// </summary>
public enum SeccompOperator
{
    /// <summary>SCMP_CMP_NE: arg != Value.</summary>
    NotEqual,

    /// <summary>SCMP_CMP_LT: arg &lt; Value.</summary>
    LessThan,

    /// <summary>SCMP_CMP_LE: arg &lt;= Value.</summary>
    LessOrEqual,

    /// <summary>SCMP_CMP_EQ: arg == Value.</summary>
    Equal,

    /// <summary>SCMP_CMP_GE: arg &gt;= Value.</summary>
    GreaterOrEqual,

    /// <summary>SCMP_CMP_GT: arg &gt; Value.</summary>
    GreaterThan,

    /// <summary>
    /// SCMP_CMP_MASKED_EQ: (arg &amp; Value) == ValueTwo. Value is the mask and ValueTwo the expected
    /// result, because runc passes (Value, ValueTwo) to libseccomp as (datum_a, datum_b) and
    /// libseccomp defines MASKED_EQ as (arg &amp; datum_a) == datum_b.
    /// </summary>
    MaskedEqual,
}
