namespace KataAgent.Helpers.Seccomp;

/// <summary>
/// One argument test of a rule: <c>args[Index] Operator Value</c>, or for
/// <see cref="SeccompOperator.MaskedEqual"/> <c>(args[Index] &amp; Value) == ValueTwo</c>.
/// </summary>
/// <param name="Index">Argument number, 0..5.</param>
/// <param name="Operator">The comparison.</param>
/// <param name="Value">The operand (the mask for MaskedEqual).</param>
/// <param name="ValueTwo">Only used by MaskedEqual: the expected masked value.</param>
public sealed record SeccompArgCondition(int Index, SeccompOperator Operator, ulong Value, ulong ValueTwo = 0);
