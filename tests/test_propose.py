"""The proposal net: cell labels and geometry against a per-point reference, the best-cell search, crops that keep
their labels through turns, the loss, a resumable training smoke run on the tiny body, mining, and the exported
graph against torch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from meteorfast.errors import InputError
from meteorfast.evaluate import point_to_segment
from meteorfast.proposals import CELL, best_cells
from meteorfast.synth import NEGATIVE_KINDS
from meteorfast.train_propose import (
    IGNORE,
    IGNORE_PX,
    POSITIVE,
    POSITIVE_PX,
    cell_centres,
    cell_labels,
    distance_to_segments,
)


def test_distance_to_segments_matches_the_per_point_reference() -> None:
    rng = np.random.default_rng(3)
    segs = [tuple(rng.uniform(0, 300, 4)) for _ in range(3)] + [(50.0, 50.0, 50.0, 50.0)]
    x, y = rng.uniform(-20, 320, (2, 200))
    got = distance_to_segments(x, y, segs)  # type: ignore[arg-type]
    want = [min(point_to_segment(float(a), float(b), s) for s in segs) for a, b in zip(x, y, strict=True)]  # type: ignore[arg-type]
    np.testing.assert_allclose(got, want, atol=1e-9)
    assert np.isinf(distance_to_segments(x, y, [])).all()


def test_cell_labels_follow_the_streak_with_a_left_out_border() -> None:
    # A horizontal streak along the centre line of cell row 5, from x = 40 to x = 200, in a grid placed at (32, 16).
    seg = (32 + 40.0, 16 + 5 * CELL + 8.0, 32 + 200.0, 16 + 5 * CELL + 8.0)
    lab = cell_labels(20, 20, [seg], origin=(32, 16))
    xs, ys = cell_centres(20, 20, (32, 16))
    d = np.array([[point_to_segment(float(a), float(b), seg) for a, b in zip(rx, ry, strict=True)]
                  for rx, ry in zip(xs, ys, strict=True)])  # fmt: skip
    assert ((lab == POSITIVE) == (d < POSITIVE_PX)).all()
    assert ((lab == IGNORE) == ((d >= POSITIVE_PX) & (d < IGNORE_PX))).all()
    assert (lab[5, 3:12] == POSITIVE).all()  # the streak's own row, over its extent
    assert lab[5, 13] != POSITIVE
    assert (lab[4] != POSITIVE).all()  # 16 px off is left out
    assert lab[3, 6] == 0.0  # 32 px off is background
    assert (cell_labels(20, 20, []) == 0.0).all()


def test_best_cells_are_the_highest_and_kept_apart() -> None:
    m = np.zeros((45, 80), np.float32)
    m[10, 10], m[12, 12], m[30, 70], m[10, 18] = 5.0, 4.0, 3.0, 2.0
    got = best_cells(m, 3, min_cells=7)
    assert [(r, c) for r, c, _ in got] == [(10, 10), (30, 70), (10, 18)]  # (12, 12) is within 7 cells of the best
    assert [v for *_, v in got] == [5.0, 3.0, 2.0]
    assert len(best_cells(np.ones((5, 5)), 3, min_cells=7)) == 1  # no room for a second
    with pytest.raises(InputError, match="2-D"):
        best_cells(np.ones(5), 1)


torch = pytest.importorskip("torch", reason="torch (the [train] extra) is needed to train")

from meteorfast import train_propose as tp  # noqa: E402

SMALL = (352, 640)  # 22 x 40 cells


def test_turns_keep_each_label_on_its_pixels() -> None:
    rng = np.random.default_rng(0)
    img = np.zeros((320, 320), np.uint8)
    lab = np.zeros((20, 20), np.float32)
    img[3 * CELL + 5, 7 * CELL + 9] = 255
    lab[3, 7] = 1.0
    for _ in range(8):
        t_img, t_lab = tp._turn(img, lab, rng)
        r, c = np.argwhere(t_img == 255)[0]
        assert t_lab[r // CELL, c // CELL] == 1.0
        assert t_lab.sum() == 1.0


def test_crops_hold_the_point_and_stay_on_the_cell_grid() -> None:
    rng = np.random.default_rng(1)
    img = np.zeros((720, 1280), np.uint8)
    for cx, cy in [(5.0, 5.0), (1275.0, 715.0), (640.0, 360.0), (100.0, 700.0)]:
        for _ in range(20):
            x0, y0 = tp.crop_at(img, cx, cy, rng)
            assert (x0 % CELL, y0 % CELL) == (0, 0)
            assert 0 <= x0 <= 1280 - 320
            assert 0 <= y0 <= 720 - 320
            assert x0 <= cx < x0 + 320
            assert y0 <= cy < y0 + 320


def test_fresh_crops_are_deterministic_and_label_their_streaks() -> None:
    cfg = tp.ProposeConfig(size=SMALL, meteor_fraction=1.0, short_fraction=0.0)
    a_img, a_lab = tp.fresh_crops(6, 11, cfg)
    b_img, b_lab = tp.fresh_crops(6, 11, cfg)
    assert all((x == y).all() for x, y in zip(a_img, b_img, strict=True))
    assert all((x == y).all() for x, y in zip(a_lab, b_lab, strict=True))
    assert all(im.shape == (320, 320) and im.dtype == np.uint8 for im in a_img)
    assert all(lb.shape == (20, 20) for lb in a_lab)
    # every meteor crop holds a point of its streak, so some cell is a meteor cell
    assert sum(bool((lb == POSITIVE).any()) for lb in a_lab) >= 5
    _, neg_lab = tp.fresh_crops(4, 12, tp.ProposeConfig(size=SMALL, meteor_fraction=0.0))
    assert all((lb == 0.0).all() for lb in neg_lab)


def test_the_loss_ignores_left_out_cells_and_rewards_the_right_map() -> None:
    labels = torch.zeros((2, 4, 4))
    labels[0, 1, 1] = POSITIVE
    labels[0, 1, 2] = IGNORE
    good = torch.full((2, 1, 4, 4), -6.0)
    good[0, 0, 1, 1] = 6.0
    bad = -good
    assert tp.loss_fn(good, labels, 8.0) < 0.05 < tp.loss_fn(bad, labels, 8.0)
    z = good.clone().requires_grad_(True)
    tp.loss_fn(z, labels, 8.0).backward()
    assert z.grad is not None
    assert z.grad[0, 0, 1, 2] == 0.0
    assert z.grad[0, 0, 0, 0] != 0.0


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    out = tmp_path_factory.mktemp("propose")
    logs: list[str] = []
    cfg = tp.ProposeConfig(steps=2, batch_size=4, mined_per_batch=0, save_every=2, size=SMALL, threads=1)
    tp.train(cfg, out, tiny=True, log=logs.append)
    return out, logs


@pytest.fixture(scope="module")
def exported(run: tuple[Path, list[str]]) -> Path:
    """The smoke run's EMA weights exported at :data:`SMALL`."""
    out, _ = run
    return tp.export(tp.build(out / "ema_2.pt", tiny=True).eval(), out / "p.onnx", SMALL)


def test_training_resumes_where_it_stopped(run: tuple[Path, list[str]]) -> None:
    out, logs = run
    assert (out / "ema_2.pt").is_file()
    assert (out / "model.onnx").is_file()
    assert json.loads(logs[-1])["step"] == 2
    assert np.isfinite(json.loads(logs[-1])["loss"])
    resumed: list[str] = []
    cfg = tp.ProposeConfig(steps=3, batch_size=4, mined_per_batch=0, save_every=2, size=SMALL, threads=1)
    tp.train(cfg, out, tiny=True, log=resumed.append)
    assert json.loads(resumed[0]) == {"resumed": str(out / "state.pt"), "step": 2}
    assert json.loads(resumed[-1])["step"] == 3
    assert (out / "ema_3.pt").is_file()
    assert torch.load(out / "state.pt", weights_only=True)["step"] == 3


def test_the_exported_net_matches_torch_and_mines_its_best_cells(
    run: tuple[Path, list[str]], exported: Path, tmp_path: Path
) -> None:
    from meteorfast.proposals import ProposalScanner
    from meteorfast.synth import SimConfig, sample

    out, _ = run
    net = tp.build(out / "ema_2.pt", tiny=True).eval()
    scanner = ProposalScanner(exported, threads=1)
    still = np.asarray(next(iter(sample(1, 5, config=SimConfig(size=SMALL)))).image, np.uint8)
    with torch.no_grad():
        want = net(torch.from_numpy(still)[None, None])[0, 0].numpy()
    got = scanner.logits(still)
    assert got.shape == (SMALL[0] // CELL, SMALL[1] // CELL)
    np.testing.assert_allclose(got, want, atol=1e-4)
    with pytest.raises(InputError, match="grey uint8"):
        scanner.logits(still.astype(np.float32))

    bank = tp.mine(exported, 8, 3, tmp_path / "bank.npz", size=SMALL, log=lambda _m: None)
    assert bank.crops.shape == (6, 320, 320)
    assert bank.scores.shape == (6,)
    assert set(bank.kinds.tolist()) <= set(NEGATIVE_KINDS)
    first = np.asarray(next(iter(sample(3, 8, meteor_fraction=0.0, weights=dict(tp.DEFAULT_WEIGHTS),
                                        config=SimConfig(size=SMALL)))).image, np.uint8)  # fmt: skip
    assert bank.scores[0] == pytest.approx(float(scanner.logits(first).max()), abs=1e-5)
    again = tp.Bank.load(tmp_path / "bank.npz")
    assert (again.crops == bank.crops).all()

    # a bank's crops enter each batch as background
    cfg = tp.ProposeConfig(batch_size=4, mined_per_batch=3, size=SMALL, banks=(str(tmp_path / "bank.npz"),))
    x, y = next(tp.batches(cfg, 0, 1))
    assert x.shape == (4, 1, 320, 320)
    assert (y[1:] == 0.0).all()
    crops = {c.tobytes() for c in bank.crops}
    for v in x[1:, 0]:
        variants = {np.ascontiguousarray(np.rot90(w, k)).tobytes() for w in (v, v[:, ::-1]) for k in range(4)}
        assert variants & crops


def test_the_checkpoint_in_the_checkout_is_the_shipped_proposal_net() -> None:
    """benchmarks/models/meteorfast-propose-d2-r3.pt (for ``train_propose train --init``) holds the shipped net's
    weights: exported at its bar, they give the shipped graph's logits."""
    import onnxruntime as ort

    from meteorfast.data import PROPOSAL_NET

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "models" / "meteorfast-propose-d2-r3.pt"
    if not path.is_file():
        pytest.skip(f"needs the source checkout's benchmarks/models ({path} is absent)")
    net = tp.build(path).eval()  # strict: every key of the net, none left over
    tp.set_bar(net, 1.263)  # the bar it was exported at (models/MODEL_CARD.md)
    session = ort.InferenceSession(str(PROPOSAL_NET), providers=["CPUExecutionProvider"])
    (frames,) = session.get_inputs()
    x = np.random.default_rng(5).integers(0, 256, frames.shape, dtype=np.uint8)
    got = session.run(["logits"], {frames.name: x})[0]
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
    assert got.shape == (1, 1, frames.shape[2] // CELL, frames.shape[3] // CELL)
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_a_bar_shifts_every_logit_so_it_reads_as_the_rescues_and_keeps_the_ranking(
    run: tuple[Path, list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from meteorfast.proposals import EXPORT_BAR

    out, _ = run
    x = torch.randint(0, 255, (1, 1, 64, 96), dtype=torch.uint8)
    with torch.no_grad():
        plain = tp.build(out / "ema_2.pt", tiny=True).eval()(x)
        shifted = tp.set_bar(tp.build(out / "ema_2.pt", tiny=True).eval(), 5.5)(x)
    np.testing.assert_allclose(shifted.numpy(), plain.numpy() - (5.5 - EXPORT_BAR), atol=1e-5)
    bad = tmp_path / "bad.onnx"
    assert tp.main(["export", str(out / "ema_2.pt"), str(bad), "--bar", "nan"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "expected a finite --bar, got nan" in err
    assert not bad.exists()


def test_mining_can_ask_for_trailed_skies_and_weights_kinds(
    exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from meteorfast.proposals import ProposalScanner
    from meteorfast.synth import SimConfig, sample

    only_clean = (("clean", 1e9),)
    bank = tp.mine(exported, 8, 2, tmp_path / "t.npz", size=SMALL, weights=only_clean, trailed_stars=1.0,
                   log=lambda _m: None)  # fmt: skip
    assert set(bank.kinds.tolist()) == {"clean"}

    def first(trailed: float) -> np.ndarray:
        cfg = SimConfig(size=SMALL, trailed_stars=trailed)
        f = next(iter(sample(2, 8, meteor_fraction=0.0, weights=dict(only_clean), config=cfg)))
        return np.asarray(f.image, np.uint8)

    trailed, points = first(1.0), first(0.0)
    assert (trailed != points).any()  # the same sky, its stars drawn as trails
    scanner = ProposalScanner(exported, threads=1)
    assert bank.scores[0] == pytest.approx(float(scanner.logits(trailed).max()), abs=1e-5)

    bad = tmp_path / "bad.npz"
    assert tp.main(["mine", str(exported), str(bad), "--seed", "1", "--weight", "clean"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "expected --weight KIND=FACTOR, got 'clean'" in err
    assert not bad.exists()
