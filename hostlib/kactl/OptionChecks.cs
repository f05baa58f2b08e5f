using System.CommandLine;

namespace KataAgent.Kactl;

/// <summary>Range checks on typed options that survive values of the wrong type.</summary>
public static class OptionChecks
{
    /// <summary>
    /// Adds a validator that reports <paramref name="check"/>'s message for a bad value. System.CommandLine
    /// runs validators also when the text did not convert (<c>--cpus two</c>), and then reading the value
    /// throws instead of returning: the conversion error is already reported, so the check is skipped.
    /// </summary>
    public static void Add<T>(Option<T> option, Func<T, string?> check)
    {
        option.Validators.Add(result =>
        {
            T value;
            try
            {
                value = result.GetValueOrDefault<T>();
            }
            catch (InvalidOperationException)
            {
                return;
            }
            if (check(value) is { } error)
            {
                result.AddError(error);
            }
        });
    }
}
