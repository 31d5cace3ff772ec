"""WaveGlow: log-dets against autodiff, round trips, synthesis lengths, batch shapes, bad input, saving,
export (TensorFlow alone) and training under tf.distribute."""
from __future__ import annotations

import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows import bijectors, models, networks
from tfp_flows.models.denoiser import Denoiser

HERE = pathlib.Path(__file__).resolve().parent
N_MELS, HOP = 8, 16  # the "tiny" preset


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    m = models.WaveGlow.from_preset("tiny")
    rng = np.random.default_rng(0)
    for wn in m.wns:  # the zero-initialised last layers make every coupling the identity: perturb them
        wn.end.kernel.assign(rng.normal(0, 0.3, wn.end.kernel.shape).astype(np.float32))
        wn.end.bias.assign(rng.normal(0, 0.3, wn.end.bias.shape).astype(np.float32))
    return m


@pytest.fixture(scope="module")
def background(model, tmp_path_factory):
    """Starts the slow checks in a subprocess as soon as the model exists; the export test collects them.

    It reloads the exported SavedModel with TensorFlow alone, then compares a MirroredStrategy step with a
    single-device step. It runs while the in-process tests do.
    """
    from tfp_flows import export

    tmp = tmp_path_factory.mktemp("waveglow")
    path = export.save(model, str(tmp / "serving"))
    mel, y = _mel(2, frames=4), _audio(2)
    np.savez(tmp / "inputs.npz", mel=mel.numpy(), audio=y.numpy(), levels=np.round(y.numpy() * 32768))
    worker = [sys.executable, str(HERE / "_waveglow_worker.py"), path, str(tmp / "inputs.npz"), str(tmp / "out.npz"), str(tmp / "mirrored.npz")]
    processes = {"reload, then mirrored": subprocess.Popen(worker, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)}
    yield dict(path=path, tmp=tmp, mel=mel, y=y, processes=processes)
    for process in processes.values():
        if process.poll() is None:
            process.kill()


def _mel(*batch, frames=4, seed=0):
    return tf.random.stateless_normal(list(batch) + [N_MELS, frames], seed=[seed, 1])


def _audio(*batch, length=64, seed=0):
    return tf.random.stateless_uniform(list(batch) + [length], seed=[seed, 2], minval=-0.5, maxval=0.5)


def test_group_1d_and_early_output_are_bijections():
    group = bijectors.Group1D(4)
    x = tf.range(24.0)[None]
    y = group.forward(x)
    assert y.shape == (1, 6, 4) and y.numpy()[0, 1].tolist() == [4.0, 5.0, 6.0, 7.0]
    np.testing.assert_array_equal(group.inverse(y).numpy(), x.numpy())
    with pytest.raises(ValueError, match="divisible by n_group = 4"):
        group.forward(tf.zeros([2, 10]))
    early = bijectors.EarlyOutput(tfp.bijectors.Scale(3.0), num_early=2)
    h = tf.random.normal([2, 5, 4])
    out, log_det = early.forward(h), early.forward_log_det_jacobian(h, event_ndims=2)
    np.testing.assert_allclose(out.numpy()[..., :2], h.numpy()[..., :2])
    np.testing.assert_allclose(out.numpy()[..., 2:], 3.0 * h.numpy()[..., 2:], rtol=1e-6)
    np.testing.assert_allclose(log_det.numpy(), np.full(2, 10 * np.log(3.0)), rtol=1e-5)
    np.testing.assert_allclose(early.inverse(out).numpy(), h.numpy(), rtol=1e-6, atol=1e-6)


def _log_det_by_copies(model, mel, x, inverse: bool = False) -> np.ndarray:
    """log|det J| of the flow (or its inverse) at each waveform of `x` `[B, T]`, from its full Jacobian in one
    backward pass: copy `(b, i)` of example `b` keeps only output `i`, so its gradient is row `i` of `J_b`.

    Exact, like `tests.conftest.autodiff_log_det` (whose 2 T backward passes took 7 s of CPU here, this 0.5 s): the
    flow treats each waveform apart (a flow that mixed the copies would give wrong rows and fail the comparison).
    """
    batch, length = x.shape
    flow = model._flow(model._condition(tf.repeat(mel, length, axis=0), length))
    copies = tf.repeat(x, length, axis=0)  # [B * T, T]
    with tf.GradientTape() as tape:
        tape.watch(copies)
        out = flow.inverse(copies) if inverse else flow.forward(copies)
        picked = tf.reduce_sum(out * tf.tile(tf.eye(length), [batch, 1]))
    jacobians = tf.reshape(tape.gradient(picked, copies), [batch, length, length])
    return tf.linalg.slogdet(jacobians)[1].numpy()


def test_log_det_matches_autodiff(model, background):
    mel, y = _mel(2), _audio(2)
    flow = model._flow(model._condition(mel, 64))
    log_det = flow.forward_log_det_jacobian(y, event_ndims=1).numpy()
    assert np.abs(log_det).max() > 1.0  # the perturbed couplings are not volume-preserving
    np.testing.assert_allclose(log_det, _log_det_by_copies(model, mel, y), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(-log_det, _log_det_by_copies(model, mel, flow.forward(y), inverse=True), rtol=1e-4, atol=1e-3)


def test_log_prob_equals_the_conditional_distribution_and_change_of_variables(model):
    mel, y = _mel(2), _audio(2)
    log_prob = model.log_prob(y, mel).numpy()
    np.testing.assert_allclose(model.conditional_distribution(mel).log_prob(y).numpy(), log_prob, rtol=1e-5)
    z = model.encode(y, mel)
    flow = model._flow(model._condition(mel, 64))
    by_hand = -0.5 * np.sum(z.numpy() ** 2, -1) - 32 * np.log(2 * np.pi) + flow.forward_log_det_jacobian(y, 1).numpy()
    np.testing.assert_allclose(log_prob, by_hand, rtol=1e-5)


def test_round_trip_and_batch_shapes(model):
    mel, y = _mel(2, 3), _audio(2, 3)
    z = model.encode(y, mel)
    assert z.shape == (2, 3, 64)
    np.testing.assert_allclose(model.decode(z, mel).numpy(), y.numpy(), atol=1e-5)
    log_prob = model.log_prob(y, mel)
    assert log_prob.shape == (2, 3)
    np.testing.assert_allclose(model.log_prob(y[1, 2], mel[1, 2]).numpy(), log_prob[1, 2].numpy(), rtol=1e-5)  # no batch dims
    # log_prob traced with unknown batch and length is the SavedModel's log_prob signature: checked by the export test.


def test_infer_length_batch_shapes_and_sigma(model):
    assert model.infer(_mel(2, frames=5), seed=1).shape == (2, 5 * HOP)
    assert model.infer(_mel(frames=3), seed=1).shape == (3 * HOP,)
    assert model.infer(_mel(2, 3, frames=2), seed=1).shape == (2, 3, 2 * HOP)
    mel = _mel(2, frames=5)
    a, b = model.infer(mel, seed=7), model.infer(mel, seed=7)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert np.abs(a.numpy()).max() <= 1.0
    mode = model.infer(mel, sigma=0.0, clip=False)  # sigma 0: the decoded zero latent
    np.testing.assert_allclose(mode.numpy(), model.decode(tf.zeros([2, 5 * HOP]), mel).numpy(), atol=1e-6)
    samples = model.conditional_distribution(mel).sample(3, seed=[1, 2])
    assert samples.shape == (3, 2, 5 * HOP)


def test_bad_input_is_refused_clearly(model):
    with pytest.raises(ValueError, match=r"expected mel with 8 mel channels.*got shape \(2, 5, 4\)"):
        model.infer(tf.zeros([2, 5, 4]))
    with pytest.raises(ValueError, match="transpose"):
        model.infer(tf.zeros([4, 8 + 1, 8]))
    with pytest.raises(ValueError, match=r"shape \[\.\.\., n_mels=8, frames\], got shape \(8,\)"):
        model.infer(tf.zeros([8]))
    with pytest.raises(ValueError, match="mel must be finite"):
        model.infer(tf.fill([1, N_MELS, 3], np.nan))
    with pytest.raises(ValueError, match="batch shape of mel"):
        model.log_prob(tf.zeros([2, 64]), tf.zeros([N_MELS, 4]))
    with pytest.raises(ValueError, match="longer than its 2 mel frames"):
        model.log_prob(tf.zeros([1, 256]), tf.zeros([1, N_MELS, 2]))
    with pytest.raises(ValueError, match="divisible by n_group = 4"):
        model.log_prob(tf.zeros([1, 30]), tf.zeros([1, N_MELS, 2]))
    with pytest.raises(ValueError, match=r"audio must be integer-valued"):
        model.bits_per_sample(tf.fill([1, 64], 0.5), _mel(1))
    with pytest.raises(ValueError, match="'audio' and 'mel'"):
        model.fit({"audio": np.zeros([2, 64])}, epochs=1)
    with pytest.raises(ValueError, match="depends on a mel"):
        model.distribution
    with pytest.raises(ValueError, match="expected an even n_group"):
        models.WaveGlow.from_preset("tiny", n_group=3)


def test_save_and_load_keep_the_density(model, tmp_path):
    audio, mel = np.round(_audio(2).numpy() * 32768), _mel(2)
    path = str(tmp_path / "wg.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, models.WaveGlow) and loaded.get_config() == model.get_config()
    np.testing.assert_allclose(loaded.bits_per_dim({"audio": audio, "mel": mel}).numpy(), model.bits_per_sample(audio, mel).numpy(), rtol=1e-5)


def test_denoiser_removes_the_bias_spectrum(model):
    denoiser = Denoiser(model, filter_length=64)
    audio = model.infer(_mel(2, frames=10), seed=3)
    np.testing.assert_allclose(denoiser(audio, strength=0.0).numpy(), audio.numpy(), atol=1e-5)  # perfect reconstruction
    bias = model.infer(tf.zeros([1, N_MELS, 10]), sigma=0.0, clip=False)
    assert float(tf.reduce_sum(denoiser(bias, strength=1.0) ** 2)) < 0.5 * float(tf.reduce_sum(bias**2))


def test_mixed_precision_keeps_float32_densities():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        m = models.WaveGlow.from_preset("tiny")
        assert m.wns[0].start.compute_dtype == "bfloat16"
        log_prob = m.log_prob(_audio(2), _mel(2))
        assert log_prob.dtype == tf.float32 and np.isfinite(log_prob.numpy()).all()
        assert m.infer(_mel(1), seed=0).dtype == tf.float32
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.slow
def test_export_loads_with_tensorflow_alone_and_trains_mirrored(model, background):
    """The subprocess started by `background`: the SavedModel with TensorFlow alone; MirroredStrategy."""
    from tfp_flows import export

    outputs = {name: p.communicate(timeout=300)[0] for name, p in background["processes"].items()}
    for name, process in background["processes"].items():
        assert process.returncode == 0, f"{name}: " + outputs[name][-3000:]
    out = np.load(background["tmp"] / "out.npz")
    mel, y = background["mel"], background["y"]
    np.testing.assert_allclose(out["log_prob"], model.log_prob(y, mel).numpy(), rtol=1e-4)
    np.testing.assert_allclose(out["bits_per_sample"], model.bits_per_sample(np.round(y.numpy() * 32768), mel).numpy(), rtol=1e-4)
    assert out["audio"].shape == (2, 4 * HOP) and np.abs(out["audio"]).max() <= 1.0
    np.testing.assert_allclose(out["mode"], model.infer(mel, sigma=0.0).numpy(), atol=1e-5)
    assert out["bad_mel"] == 1  # a mel with the wrong channel count is refused
    assert sorted(export.load(background["path"]).signatures) == ["bits_per_sample", "infer", "log_prob", "serving_default"]
    result = np.load(background["tmp"] / "mirrored.npz")
    assert np.abs(result["single"] - result["initial"]).max() > 1e-4  # the step moved the weights
    np.testing.assert_allclose(result["replicated"], result["single"], atol=1e-5)
    bits = result["bits"]  # 3 epochs of fit under the strategy
    assert np.isfinite(bits).all() and bits[-1] < bits[0] - 0.5, bits


def test_vocode_command_writes_wav_and_png_and_refuses_other_rates(model, tmp_path, capsys):
    from tests.conftest import run_cli
    from tfp_flows.data import audio as audio_lib
    from tfp_flows.training import RunDir

    run = RunDir(str(tmp_path / "run"))
    run.write_json("config.json", dict(model="waveglow", preset="tiny"))
    run.save_model(model, "best.keras")
    config = model.mel_config()
    speechlike = np.round(8000 * np.sin(np.linspace(0, 200, 20 * HOP))).astype(np.int16)
    audio_lib.write_wav(str(tmp_path / "in.wav"), speechlike, config.sample_rate)
    code, err = run_cli(["vocode", "--run", run.path, "--wav", str(tmp_path / "in.wav"), "--out", str(tmp_path / "out.wav")], capsys)
    assert code == 0, err
    samples, rate = audio_lib.read_wav(str(tmp_path / "out.wav"))
    assert rate == config.sample_rate and samples.shape == (20 * HOP,)
    assert (tmp_path / "out.png").stat().st_size > 0
    np.save(tmp_path / "mel.npy", np.zeros([6, N_MELS], np.float32))  # [frames, n_mels]: transposed
    code, err = run_cli(["vocode", "--run", run.path, "--mel", str(tmp_path / "mel.npy"), "--out", str(tmp_path / "x.wav")], capsys)
    assert code == 2 and "transpose" in err
    audio_lib.write_wav(str(tmp_path / "other.wav"), speechlike, 16000)
    code, err = run_cli(["vocode", "--run", run.path, "--wav", str(tmp_path / "other.wav"), "--out", str(tmp_path / "x.wav")], capsys)
    assert code == 2 and "16000 Hz" in err and "--resample" in err


def test_train_names_the_presets_that_fit_the_data(capsys):
    """The embedded corpus is 22050 Hz: the 8 kHz test preset is refused with the presets that fit, before any data loads."""
    from tests.conftest import run_cli

    code, err = run_cli(["train", "--model", "waveglow", "--preset", "tiny"], capsys)
    assert code == 2 and err == ("tfp-flows: error: --preset tiny: WaveGlow's 'tiny' preset (a preset for unit tests) computes "
                                 "mels of 8000 Hz audio, but the speech corpus is 22050 Hz; use --preset ljspeech or small."), err


def test_repeating_upsampler_gives_each_sample_its_nearest_frame():
    from tfp_flows.models.waveglow import _repeating_kernel

    hop, frames = 16, 6
    mel = np.tile(np.arange(frames, dtype=np.float32)[None, :, None], [1, 1, 2])  # [1, frames, 2 bands]: 0, 1, 2, ...
    kernel = tf.constant(_repeating_kernel(64, hop, 2))
    out = tf.nn.conv1d_transpose(mel, kernel, [1, (frames - 1) * hop + 64, 2], strides=hop, padding="VALID").numpy()[0]
    np.testing.assert_array_equal(out[: frames * hop], np.repeat(mel[0], hop, axis=0))
    model = models.WaveGlow.from_preset("tiny", upsample_init="repeat")
    assert model.get_config()["upsample_init"] == "repeat"
    np.testing.assert_array_equal(model.upsample.kernel.numpy(), _repeating_kernel(64, hop, N_MELS))


@pytest.mark.parametrize("kernel_size", [3, 5])
def test_fused_wavenet_is_the_same_function(kernel_size):
    """The synthesis formulation (folded start/end convs, Winograd F(2, 3) per dilation phase) equals the plain one,
    on lengths shorter than the dilations' tiles, odd, and longer."""
    net = networks.WaveNet(6, n_layers=4, n_channels=8, kernel_size=kernel_size)
    rng = np.random.default_rng(kernel_size)
    net(tf.zeros([1, 5, 3]), tf.zeros([1, 5, 7]))
    net.set_weights([rng.normal(0, 0.4, w.shape).astype(np.float32) for w in net.get_weights()])  # end is non-zero too
    for length in (1, 7, 40):
        x, cond = rng.normal(size=(2, length, 3)).astype(np.float32), rng.normal(size=(2, length, 7)).astype(np.float32)
        plain, fused = net(x, cond).numpy(), net(x, cond, fused=True).numpy()
        assert np.abs(plain).max() > 0.1
        np.testing.assert_allclose(fused, plain, rtol=1e-5, atol=1e-5 * np.abs(plain).max())
    # Each layer in time chunks, reading its dilated conv's reach from the neighbours: 6 chunks of 7 steps, shorter
    # than the last layers' reach (8 / 16 steps each side), the last one shorter still.
    np.testing.assert_allclose(net(x, cond, fused=True, chunk_steps=7).numpy(), fused, rtol=1e-5, atol=1e-5 * np.abs(fused).max())
    with pytest.raises(ValueError, match="chunk_steps applies to the fused"):
        net(x, cond, chunk_steps=7)


def test_synthesis_uses_the_fused_flow_with_the_same_values_and_log_dets(model):
    """`infer`/`decode` run the flow with fused WaveNets (`_infer_folded`; the round trip above checks `decode` against
    `encode`): its inverse and inverse log-det equal the plain flow's."""
    mel, z = _mel(2, frames=4, seed=3), tf.random.stateless_normal([2, 64], seed=[3, 4])
    cond = model._condition(mel, 64)
    plain, fused = model._flow(cond), model._flow(cond, fused=True)
    y = plain.inverse(z).numpy()
    assert np.abs(y - z.numpy()).max() > 0.1  # the couplings are not the identity
    np.testing.assert_allclose(fused.inverse(z).numpy(), y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fused.inverse_log_det_jacobian(z, 1).numpy(), plain.inverse_log_det_jacobian(z, 1).numpy(), rtol=1e-5)


def test_synthesis_in_chunks_equals_synthesis_in_one_piece(model):
    """Synthesis runs each WaveNet layer over the time axis in chunks of `synthesis_chunk_steps`: on 40 grouped steps,
    5 chunks of 8 give the waveform of the whole sequence at once."""
    mel, z = _mel(2, frames=10, seed=5), tf.random.stateless_normal([2, 10 * HOP], seed=[5, 4])
    assert model.synthesis_chunk_steps == 4096
    try:
        model.synthesis_chunk_steps = None
        whole = model._infer_folded(mel, z).numpy()  # what infer's graph runs, here eagerly
        model.synthesis_chunk_steps = 8
        assert model._infer_graph is None  # retraced with the new value
        chunked = model._infer_folded(mel, z).numpy()
        with pytest.raises(ValueError, match="synthesis_chunk_steps an integer >= 1 or None, got 0"):
            model.synthesis_chunk_steps = 0
    finally:
        model.synthesis_chunk_steps = 4096
    assert np.abs(whole - z.numpy()).max() > 0.1  # the couplings are not the identity
    np.testing.assert_allclose(chunked, whole, rtol=1e-5, atol=1e-5 * np.abs(whole).max())
