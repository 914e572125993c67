"""The registry's free slots: a compact stack that hands slots out in the order a list did."""

from simulator.workload.population import ConnectionRegistry


def test_freed_slots_are_reused_last_in_first_out_after_a_grow():
    reg = ConnectionRegistry(4, capacity=16)
    assert [reg.open(0.0, 0, 1.0) for _ in range(16)] == list(range(16))
    assert reg.open(0.0, 0, 1.0) == 16          # grown to 32: the new slots in order
    for i in (5, 2):
        reg.close(i, 1.0)
        reg.delete_row(i, 1.0)
    assert [reg.open(0.0, 0, 1.0) for _ in range(3)] == [2, 5, 17]
    assert reg.gen[[2, 5, 17]].tolist() == [2, 2, 1]
