namespace KataAgent.Shim.Sizing;

/// <summary>
/// A sizing input is unusable: a malformed sandbox annotation, a bad <c>sizing</c> option. <see cref="Field"/> names
/// it (the annotation key, <c>sizing.baseCpus</c>, a JSON path); the task service answers InvalidArgument.
/// </summary>
internal sealed class SizingException(string field, string problem, Exception? inner = null)
    : ArgumentException($"{field}: {problem}", field, inner)
{
    /// <summary>The annotation, option or JSON path at fault.</summary>
    public string Field { get; } = field;

    /// <summary>What is wrong with it.</summary>
    public string Problem { get; } = problem;

    /// <summary>"field: problem", without ArgumentException's parameter suffix.</summary>
    public override string Message => $"{Field}: {Problem}";
}
