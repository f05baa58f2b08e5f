using FluentAssertions;
using KataAgent.Host.Pods;
using Xunit;

namespace KataAgent.Tests.HostPods;

/// <summary>
/// <see cref="ResourceQuantity"/> against Kubernetes' resource.Quantity: the values below are what ParseQuantity,
/// MilliValue and Value give for the same strings (apimachinery's quantity_test.go and its grammar).
/// </summary>
public sealed class ResourceQuantityTests
{
    [Theory]
    [InlineData("250m", 250)]
    [InlineData("0.5", 500)]
    [InlineData(".5", 500)]
    [InlineData("1", 1000)]
    [InlineData("1.", 1000)]
    [InlineData("+1", 1000)]
    [InlineData("2", 2000)]
    [InlineData("1.0001", 1001)] // 1000.1 millicores, rounded up
    [InlineData("0.1m", 1)] // Kubernetes rounds 0.1m up to 1m
    [InlineData("100n", 1)]
    [InlineData("1u", 1)]
    [InlineData("1500u", 2)]
    [InlineData("1e3", 1_000_000)]
    [InlineData("1E3", 1_000_000)]
    [InlineData("1e+3", 1_000_000)]
    [InlineData("1e-3", 1)]
    [InlineData("1.5e-3", 2)]
    [InlineData("12e-1", 1200)]
    [InlineData("1k", 1_000_000)]
    [InlineData("0001", 1000)]
    [InlineData("1e-100", 1)] // any non-zero amount is at least a nano
    public void Cpu_quantities_give_millicores_rounded_up(string text, long milli)
    {
        ResourceQuantity.Parse(text).ToMilli().Should().Be(milli);
    }

    [Theory]
    [InlineData("1Ki", 1024L)]
    [InlineData("1Mi", 1048576L)]
    [InlineData("1.5Gi", 1610612736L)]
    [InlineData("128Mi", 134217728L)]
    [InlineData("0.5Ki", 512L)]
    [InlineData("1Ti", 1099511627776L)]
    [InlineData("1Pi", 1125899906842624L)]
    [InlineData("1Ei", 1152921504606846976L)]
    [InlineData("1k", 1000L)]
    [InlineData("1M", 1_000_000L)]
    [InlineData("1G", 1_000_000_000L)]
    [InlineData("1T", 1_000_000_000_000L)]
    [InlineData("1P", 1_000_000_000_000_000L)]
    [InlineData("1E", 1_000_000_000_000_000_000L)] // exa, not an exponent
    [InlineData("129e6", 129_000_000L)]
    [InlineData("1.5", 2L)] // Value() rounds up
    [InlineData("1m", 1L)] // the infamous "1m" of memory: a thousandth of a byte, rounded up
    [InlineData("123456789", 123456789L)]
    [InlineData("9223372036854775807", long.MaxValue)]
    [InlineData("1.1Gi", 1181116007L)] // 1181116006.4 rounded up
    public void Memory_quantities_give_bytes_rounded_up(string text, long bytes)
    {
        ResourceQuantity.Parse(text).ToUnits().Should().Be(bytes);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("000")]
    [InlineData("0.0")]
    [InlineData("0Mi")]
    [InlineData("0e5")]
    [InlineData("-0")]
    // Kubernetes' scanner takes a sign, a dot or a suffix without digits as zero: a manifest Kubernetes takes must load here too.
    [InlineData("+")]
    [InlineData("-")]
    [InlineData(".")]
    [InlineData("Gi")]
    [InlineData("m")]
    public void Zero_in_its_spellings(string text)
    {
        var quantity = ResourceQuantity.Parse(text);
        quantity.IsZero.Should().BeTrue();
        quantity.ToMilli().Should().Be(0);
        quantity.ToUnits().Should().Be(0);
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("1Gb")]
    [InlineData("1GB")]
    [InlineData("1KiB")]
    [InlineData("1K")] // 1000 is k, 1024 is Ki: K is neither
    [InlineData("1i")]
    [InlineData("1 Gi")]
    [InlineData(" 1")]
    [InlineData("1 ")]
    [InlineData("1e")]
    [InlineData("1e+")]
    [InlineData("1ee3")]
    [InlineData("1e1.5")]
    [InlineData("1m3")]
    [InlineData("1Ki1")]
    [InlineData("1.5.5")]
    [InlineData("0x10")]
    [InlineData("1,5")]
    [InlineData("--1")]
    [InlineData("1e100")] // beyond any int64, refused rather than expanded
    [InlineData("½")]
    public void Nonsense_is_refused_with_the_text_named(string text)
    {
        ResourceQuantity.TryParse(text, out _, out string? error).Should().BeFalse();
        error.Should().Contain($"'{text}'");
        var parse = () => ResourceQuantity.Parse(text);
        parse.Should().Throw<FormatException>();
    }

    [Fact]
    public void Negative_quantities_parse_and_say_so()
    {
        var quantity = ResourceQuantity.Parse("-250m");
        quantity.IsNegative.Should().BeTrue();
        quantity.ToMilli().Should().Be(-250);
        quantity.ToUnits().Should().Be(-1); // rounded away from zero, as Kubernetes' Value()
    }

    [Theory]
    [InlineData("9223372036854775808")]
    [InlineData("8Ei")]
    public void Values_beyond_int64_overflow(string text)
    {
        var quantity = ResourceQuantity.Parse(text);
        var units = () => quantity.ToUnits();
        units.Should().Throw<OverflowException>().WithMessage($"*'{text}'*");
    }

    [Fact]
    public void Millicores_of_a_large_quantity_overflow()
    {
        var milli = () => ResourceQuantity.Parse("9223372036854775807").ToMilli();
        milli.Should().Throw<OverflowException>();
        ResourceQuantity.Parse("9223372036854775").ToMilli().Should().Be(9223372036854775000L);
    }

    [Fact]
    public void Equal_values_in_different_spellings_are_equal()
    {
        ResourceQuantity.Parse("1Ki").Should().Be(ResourceQuantity.Parse("1024"));
        (ResourceQuantity.Parse("1000m") == ResourceQuantity.Parse("1")).Should().BeTrue();
        (ResourceQuantity.Parse("1e3") == ResourceQuantity.Parse("1k")).Should().BeTrue();
        (ResourceQuantity.Parse("1Mi") != ResourceQuantity.Parse("1M")).Should().BeTrue();
        ResourceQuantity.Parse("1.5Gi").ToString().Should().Be("1.5Gi");
        default(ResourceQuantity).Text.Should().Be("0");
    }
}
