namespace KataAgent.Helpers.Seccomp;

/// <summary>
/// Builds a classic-BPF program with symbolic forward labels and resolves them. Conditional
/// jumps carry 8-bit offsets, so a jump whose target ends up more than 255 instructions away
/// is rewritten to jump to a trampoline <c>JA</c> (32-bit offset) placed right after it. Every
/// trampoline only lengthens the program, so the fix-point loop terminates.
/// </summary>
internal sealed class BpfAssembler
{
    /// <summary>Target meaning "the instruction after this jump".</summary>
    public const int Next = -1;

    private readonly List<Item> _items = [];
    private readonly List<int> _labelItem = [];

    /// <summary>Instructions emitted so far, before any trampoline is added.</summary>
    public int Count { get; private set; }

    public int NewLabel()
    {
        _labelItem.Add(-1);
        return _labelItem.Count - 1;
    }

    /// <summary>Binds <paramref name="label"/> to the next instruction emitted.</summary>
    public void Place(int label)
    {
        if (_labelItem[label] >= 0)
        {
            throw new InvalidOperationException($"BPF label {label} placed twice");
        }
        _labelItem[label] = _items.Count;
        _items.Add(new Item(ItemKind.Label, 0, 0, label, 0));
    }

    public void LoadWord(uint offset) => Emit(BpfOpcodes.LoadWordAbsolute, offset);

    public void And(uint mask) => Emit(BpfOpcodes.AndK, mask);

    public void Return(uint value) => Emit(BpfOpcodes.ReturnK, value);

    /// <summary>A conditional jump to labels (or <see cref="Next"/>).</summary>
    public void Jump(ushort opcode, uint k, int whenTrue, int whenFalse)
    {
        if (whenTrue == Next || whenFalse == Next)
        {
            // "Next" is the item after the jump and its trampolines: a label placed right here.
            var next = NewLabel();
            _items.Add(new Item(ItemKind.Jump, opcode, k, whenTrue == Next ? next : whenTrue, whenFalse == Next ? next : whenFalse));
            Count++;
            Place(next);
            return;
        }
        _items.Add(new Item(ItemKind.Jump, opcode, k, whenTrue, whenFalse));
        Count++;
    }

    /// <summary>Resolves labels, adds trampolines where needed and returns the program.</summary>
    public SockFilter[] Assemble()
    {
        foreach (var item in _items)
        {
            if (item.Kind == ItemKind.Jump && (_labelItem[item.True] < 0 || _labelItem[item.False] < 0))
            {
                throw new InvalidOperationException("BPF jump to a label never placed");
            }
        }

        var longTrue = new bool[_items.Count];
        var longFalse = new bool[_items.Count];
        var position = new int[_items.Count];
        int length;
        bool changed;
        do
        {
            length = 0;
            for (var i = 0; i < _items.Count; i++)
            {
                position[i] = length;
                length += _items[i].Kind switch
                {
                    ItemKind.Label => 0,
                    ItemKind.Jump => 1 + (longTrue[i] ? 1 : 0) + (longFalse[i] ? 1 : 0),
                    _ => 1,
                };
            }

            changed = false;
            for (var i = 0; i < _items.Count; i++)
            {
                var item = _items[i];
                if (item.Kind != ItemKind.Jump)
                {
                    continue;
                }
                var at = position[i];
                if (!longTrue[i] && Distance(at, Target(item.True, position)) > BpfOpcodes.MaxConditionalOffset)
                {
                    longTrue[i] = true;
                    changed = true;
                }
                if (!longFalse[i] && Distance(at, Target(item.False, position)) > BpfOpcodes.MaxConditionalOffset)
                {
                    longFalse[i] = true;
                    changed = true;
                }
            }
        }
        while (changed);

        foreach (var item in _items)
        {
            // A label placed last (nothing after it) would point past the program; the compiler
            // always ends each path with a return, so this only guards against misuse.
            if (item.Kind == ItemKind.Jump && (Target(item.True, position) >= length || Target(item.False, position) >= length))
            {
                throw new InvalidOperationException("BPF jump past the end of the program");
            }
        }

        var program = new SockFilter[length];
        for (var i = 0; i < _items.Count; i++)
        {
            var item = _items[i];
            var at = position[i];
            switch (item.Kind)
            {
                case ItemKind.Label:
                    break;
                case ItemKind.Simple:
                    program[at] = new SockFilter(item.Opcode, 0, 0, item.K);
                    break;
                case ItemKind.Jump:
                {
                    var trueTarget = Target(item.True, position);
                    var falseTarget = Target(item.False, position);
                    var slot = at + 1;
                    byte jt, jf;
                    if (longTrue[i])
                    {
                        jt = (byte)(slot - at - 1);
                        program[slot] = new SockFilter(BpfOpcodes.JumpAlways, 0, 0, (uint)Distance(slot, trueTarget));
                        slot++;
                    }
                    else
                    {
                        jt = checked((byte)Distance(at, trueTarget));
                    }
                    if (longFalse[i])
                    {
                        jf = (byte)(slot - at - 1);
                        program[slot] = new SockFilter(BpfOpcodes.JumpAlways, 0, 0, (uint)Distance(slot, falseTarget));
                    }
                    else
                    {
                        jf = checked((byte)Distance(at, falseTarget));
                    }
                    program[at] = new SockFilter(item.Opcode, jt, jf, item.K);
                    break;
                }
            }
        }
        return program;
    }

    private void Emit(ushort opcode, uint k)
    {
        _items.Add(new Item(ItemKind.Simple, opcode, k, 0, 0));
        Count++;
    }

    private int Target(int label, int[] position) => position[_labelItem[label]];

    // Classic BPF only jumps forward: offset = target - (pc + 1).
    private static int Distance(int from, int to)
    {
        var distance = to - from - 1;
        return distance >= 0 ? distance : throw new InvalidOperationException("backward BPF jump");
    }

    private enum ItemKind
    {
        Label,
        Simple,
        Jump,
    }

    private readonly record struct Item(ItemKind Kind, ushort Opcode, uint K, int True, int False);
}
