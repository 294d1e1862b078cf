"""The zentropy classifier: its algebra, what it reduces to, learnt and inferred
temperatures, persistence, the scikit-learn contract and bad input."""

import pickle

import numpy as np
import pytest

from quests import InvalidInputError, OutputError, QuestsWarning
from reference import damage_torch_weights

torch = pytest.importorskip("torch")

from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from quests.zenn import ZENNClassifier, zentropy  # noqa: E402

KB = 8.617333262e-5


def _three_class_data(n=600, seed=0):
    """Two features, three classes whose weights shift with T (300-900 K)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    t = rng.uniform(300.0, 900.0, n)
    logits = np.stack([0 * x[:, 0], 1.0 + x[:, 0] - 0.08 * (1 + x[:, 1]) / (KB * t),
                       2.0 - x[:, 1] - 0.12 / (KB * t)], 1)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    y = np.array([rng.choice(3, p=row) for row in p])
    return x, y, t


@pytest.fixture(scope="module")
def fitted():
    x, y, t = _three_class_data()
    clf = ZENNClassifier(hidden=(16,), multiplicities=[1.0, 2.0, 3.0], random_state=0,
                         max_iter=200)
    return clf.fit(x, np.array(["a", "b", "c"])[y], temperature=t), (x, y, t)


def test_probabilities_are_the_zentropy_weights_of_the_learnt_terms(fitted):
    clf, (x, _, _) = fitted
    temps = np.linspace(200.0, 1500.0, 9)
    energies, entropies = clf.energies_and_entropies(x[:5])
    assert energies.shape == entropies.shape == (5, 3) and (entropies >= 0).all()
    for i in range(5):
        # F_c(T) = E_c - kB T S_c on a (T, V) grid with three equal volumes
        f_k = energies[i][:, None, None] - KB * temps[None, :, None] * entropies[i][:, None, None]
        z = zentropy(temps, np.array([1.0, 2.0, 3.0]), np.repeat(f_k, 3, axis=2),
                     [1.0, 2.0, 3.0])
        p = clf.predict_proba(np.repeat(x[i:i + 1], temps.size, axis=0), temperature=temps)
        np.testing.assert_allclose(p, z.probabilities[:, :, 0].T, rtol=0, atol=1e-12)
        np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-12)
    assert list(clf.classes_) == ["a", "b", "c"]
    assert set(clf.predict(x, temperature=600.0)) <= {"a", "b", "c"}


def test_one_temperature_without_entropy_is_multinomial_logistic_regression():
    # S_c = 0, one T, no hidden layer, no penalty: the maximum-likelihood softmax
    # classifier, whose optimum scikit-learn's LogisticRegression also finds
    from sklearn.linear_model import LogisticRegression

    x, y, _ = _three_class_data(n=400, seed=1)
    clf = ZENNClassifier(hidden=(), entropy=False, alpha=0.0, random_state=0, max_iter=300,
                         lbfgs_steps=200).fit(x, y)
    assert clf.temperature_mode_ == "none"
    reference = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10000).fit(x, y)
    np.testing.assert_allclose(clf.predict_proba(x), reference.predict_proba(x), atol=2e-6)
    energies, entropies = clf.energies_and_entropies(x)
    assert np.all(entropies == 0)
    logits = -energies  # E in units of kB T without temperatures
    p = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(clf.predict_proba(x), p / p.sum(1, keepdims=True), atol=1e-12)


def test_zero_features_learn_the_boltzmann_law_and_extrapolate_in_temperature():
    t = np.linspace(600.0, 900.0, 31)
    p1 = 1 / (1 + np.exp(0.1 / (KB * t) - 1.5))
    clf = ZENNClassifier(hidden=(), random_state=0, max_iter=300, lbfgs_steps=40)
    clf.fit_distributions(np.zeros((31, 0)), np.c_[1 - p1, p1], temperature=t)
    hot = np.array([1500.0, 3000.0])
    p = clf.predict_proba(np.zeros((2, 0)), temperature=hot)
    np.testing.assert_allclose(p[:, 1], 1 / (1 + np.exp(0.1 / (KB * hot) - 1.5)), atol=1e-6)


def _two_class(x, t):
    """p(class 1 | x, T): E_1 - E_0 = 0.1 + 0.08 x eV, S_1 - S_0 = 1.5 + 0.5 x kB."""
    return 1 / (1 + np.exp((0.1 + 0.08 * x) / (KB * t) - 1.5 - 0.5 * x))


def test_a_learnt_source_temperature_recovers_the_true_one():
    rng = np.random.default_rng(1)
    temps, n = np.array([300.0, 600.0, 900.0]), 300
    x = rng.uniform(-1, 1, (3 * n, 1))
    sources = np.repeat([0, 1, 2], n)
    p = _two_class(x[:, 0], temps[sources])
    clf = ZENNClassifier(hidden=(16,), random_state=0, max_iter=300, lbfgs_steps=200)
    clf.fit_distributions(x, np.c_[1 - p, p], sources=sources,
                          source_temperatures={0: 300.0, 2: 900.0})
    assert clf.source_temperatures_[0] == 300.0 and clf.source_temperatures_[2] == 900.0
    assert clf.source_temperatures_[1] == pytest.approx(600.0, rel=0.03)
    # at prediction a trained source uses its learnt temperature
    np.testing.assert_allclose(
        clf.predict_proba(x[:5], sources=np.ones(5, int)),
        clf.predict_proba(x[:5], temperature=clf.source_temperatures_[1]), atol=1e-14)


def test_temperature_inferred_from_unlabelled_inputs():
    # class-conditional features fixed, class weights by a Boltzmann law: the
    # inputs' own distribution tells the temperature (labels are never used)
    rng = np.random.default_rng(1)

    def sample(t, n):
        c = rng.random(n) < 1 / (1 + np.exp(0.15 / (KB * t) - 2.0))
        return rng.normal(np.where(c, 1.0, -1.0), 0.7)[:, None], c.astype(int)

    parts = [sample(t, 1500) for t in (300.0, 600.0, 900.0)]
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    clf = ZENNClassifier(hidden=(16,), random_state=0, max_iter=800).fit(
        x, y, temperature=np.repeat([300.0, 600.0, 900.0], 1500))
    inferred = []
    for t in (450.0, 750.0):
        unlabelled, _ = sample(t, 3000)
        value = clf.infer_temperature(unlabelled, sources=np.zeros(3000, int))
        assert np.all(value == value[0])
        inferred.append(value[0])
    assert inferred[0] == pytest.approx(450.0, rel=0.12)
    assert inferred[1] == pytest.approx(750.0, rel=0.12)
    # per sample: one value each (one input says little: some land on the edge of the
    # search range, with a warning), and the predictions use them
    with pytest.warns(QuestsWarning, match="edge"):
        per_sample = clf.infer_temperature(x[:4])
    assert per_sample.shape == (4,) and np.all(per_sample > 0)
    with pytest.warns(QuestsWarning, match="edge"):
        implicit = clf.predict_proba(x[:4])
    np.testing.assert_allclose(implicit, clf.predict_proba(x[:4], temperature=per_sample),
                               atol=1e-14)


def test_same_random_state_same_model(fitted):
    clf, (x, y, t) = fitted
    again = ZENNClassifier(hidden=(16,), multiplicities=[1.0, 2.0, 3.0], random_state=0,
                           max_iter=200).fit(x, np.array(["a", "b", "c"])[y], temperature=t)
    np.testing.assert_array_equal(again.predict_proba(x, temperature=t),
                                  clf.predict_proba(x, temperature=t))


def test_save_load_and_pickle_round_trip(fitted, tmp_path):
    clf, (x, _, t) = fitted
    path = tmp_path / "clf.pt"
    clf.save(path, metadata={"k": 12, "cutoff": 5.0})
    back = ZENNClassifier.load(path)
    np.testing.assert_array_equal(back.predict_proba(x, temperature=t),
                                  clf.predict_proba(x, temperature=t))
    assert list(back.classes_) == ["a", "b", "c"] and back.metadata_ == {"k": 12, "cutoff": 5.0}
    assert back.get_params()["multiplicities"] == [1.0, 2.0, 3.0]
    np.testing.assert_array_equal(back.infer_temperature(x[:3]), clf.infer_temperature(x[:3]))
    clone = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(clone.predict_proba(x, temperature=t),
                                  clf.predict_proba(x, temperature=t))
    with pytest.raises(OutputError, match="exists"):
        clf.save(path)
    # flipped bytes inside the largest weight tensor are refused (torch does not check the
    # zip CRCs)
    damaged = damage_torch_weights(path, tmp_path / "damaged.pt")
    with pytest.raises(InvalidInputError, match="damaged"):
        ZENNClassifier.load(damaged)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a model")
    with pytest.raises(InvalidInputError, match="not a ZENN classifier file"):
        ZENNClassifier.load(garbage)


def test_a_free_energy_model_file_is_not_a_classifier(tmp_path):
    from quests.zenn import ZENN

    model = ZENN(1, hidden=(4,), seed=0).fit([1.0, 2.0, 3.0], [100.0, 200.0, 300.0],
                                             [0.0, 0.1, 0.2], epochs=2, lbfgs_steps=0)
    model.save(tmp_path / "zenn.pt")
    with pytest.raises(InvalidInputError, match="not a ZENN classifier file"):
        ZENNClassifier.load(tmp_path / "zenn.pt")


@pytest.mark.parametrize("call, match", [
    (lambda c, x, y, t: c.fit(x, np.zeros(len(y), int), temperature=t), "one class only"),
    (lambda c, x, y, t: c.fit(x, y, temperature=-t), "> 0"),
    (lambda c, x, y, t: c.fit(x, y, temperature=np.where(y == 1, np.nan, t)), "NaN"),
    (lambda c, x, y, t: c.fit(x, y, temperature=t[:-1]), "one per sample"),
    (lambda c, x, y, t: c.fit(x, y, temperature=t, sources=y), "not both"),
    (lambda c, x, y, t: c.fit(x, y, sources=y, source_temperatures={0: 300.0}),
     "at least two sources"),
    (lambda c, x, y, t: c.fit(x, y, sources=y, source_temperatures={0: 300.0, 1: 300.0}),
     "at least two sources"),
    (lambda c, x, y, t: c.fit(x, y, sources=y, source_temperatures={0: 300.0, 7: 900.0}),
     "names source 7"),
    (lambda c, x, y, t: c.fit(x, y, sources=y + 0.5), "integers"),
    (lambda c, x, y, t: c.fit(x, y, source_temperatures={0: 300.0}), "needs sources"),
    (lambda c, x, y, t: c.fit(np.where(y[:, None] == 1, np.nan, x), y, temperature=t), "NaN"),
    (lambda c, x, y, t: c.fit_distributions(x, np.ones((len(y), 1)), temperature=t),
     "n_classes >= 2"),
    (lambda c, x, y, t: c.fit_distributions(x, -np.ones((len(y), 2)), temperature=t), ">= 0"),
    (lambda c, x, y, t: c.set_params(hidden=(0,)).fit(x, y, temperature=t), "hidden"),
    (lambda c, x, y, t: c.set_params(kb=0.0).fit(x, y, temperature=t), "kb"),
    (lambda c, x, y, t: c.set_params(max_iter=0).fit(x, y, temperature=t), "at least one"),
    (lambda c, x, y, t: c.set_params(multiplicities=[1.0]).fit(x, y, temperature=t),
     "multiplicities"),
    (lambda c, x, y, t: c.set_params(device="abacus").fit(x, y, temperature=t), "device"),
    (lambda c, x, y, t: c.set_params(device="meta").fit(x, y, temperature=t), "not available"),
    (lambda c, x, y, t: c.set_params(learning_rate=float("nan")).fit(x, y, temperature=t),
     "learning_rate"),
    (lambda c, x, y, t: c.fit(x, np.linspace(0, 1, len(y)), temperature=t), "continuous"),
])
def test_bad_input_at_fit(call, match):
    x, y, t = _three_class_data(n=60)
    with pytest.raises(InvalidInputError, match=match):
        call(ZENNClassifier(hidden=(4,), max_iter=2, random_state=0), x, y, t)


def test_bad_input_at_predict(fitted):
    from sklearn.exceptions import NotFittedError

    clf, (x, y, t) = fitted
    with pytest.raises(InvalidInputError, match="X has 3 features, but ZENNClassifier is "
                                                "expecting 2"):
        clf.predict(np.zeros((2, 3)), temperature=300.0)
    with pytest.raises(InvalidInputError, match="> 0"):
        clf.predict(x, temperature=0.0)
    with pytest.raises(InvalidInputError, match="NaN"):
        clf.predict(x[:2], temperature=[300.0, np.nan])
    with pytest.raises(InvalidInputError, match="not both"):
        clf.predict(x, temperature=t, sources=y)
    with pytest.raises(NotFittedError):
        ZENNClassifier().predict(x)
    blind = ZENNClassifier(hidden=(4,), input_weight=0.0, max_iter=5, random_state=0)
    blind.fit(x, y, temperature=t)
    with pytest.raises(InvalidInputError, match="input_weight=0"):
        blind.predict(x)
    featureless = ZENNClassifier(hidden=(), max_iter=5, random_state=0)
    featureless.fit(np.zeros((len(y), 0)), y, temperature=t)
    with pytest.raises(InvalidInputError, match="without features"):
        featureless.predict(np.zeros((2, 0)))
    assert featureless.predict(np.zeros((2, 0)), temperature=500.0).shape == (2,)


def test_an_inferred_temperature_on_the_edge_warns(fitted):
    clf, (x, _, _) = fitted
    with pytest.warns(QuestsWarning, match="edge of the search range"):
        clf.infer_temperature(np.full((3, 2), 50.0))


def _expected_failures(estimator):
    return {"check_estimators_empty_data_messages":
            "zero features are allowed by design: the class weights then depend on T alone"}


@parametrize_with_checks([ZENNClassifier(hidden=(8,), max_iter=100, random_state=0)],
                         expected_failed_checks=_expected_failures)
def test_scikit_learn_estimator_contract(estimator, check):
    check(estimator)


# -- quests zenn classify --------------------------------------------------------------------

@pytest.fixture(scope="module")
def cu_frames(tmp_path_factory):
    """Solid and liquid Cu (256 atoms, CNA of the minimised frames in ``cna_min``)."""
    import ase.io

    from quests.data import trajectory_files

    frames = ase.io.read(trajectory_files()["cu_coexist_phases"], ":")
    folder = tmp_path_factory.mktemp("classify")
    pick = {(phase, t): [a for a in frames if a.info["phase"] == phase
                         and a.info["target_K"] == t][:2]
            for phase in ("solid", "liquid") for t in (1200.0, 1300.0, 1500.0)}
    train = sum((pick[(p, t)] for p in ("solid", "liquid") for t in (1200.0, 1300.0)), [])
    ase.io.write(folder / "train.xyz", train)
    ase.io.write(folder / "traj.xyz", pick[("solid", 1500.0)][:1] + pick[("liquid", 1500.0)][:1])
    return folder


def _cli(args):
    from click.testing import CliRunner

    from quests.cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args])


def _bad(result, match):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines[-1].startswith("error: ") and match in lines[-1], result.output
    assert "Traceback" not in result.output


QUICK = ["-k", "12", "--epochs", "60", "--hidden", "8", "-q"]


def test_cli_trains_labels_atoms_and_writes_them_for_ovito(cu_frames):
    import ase.io

    out, model = cu_frames / "labelled.xyz", cu_frames / "model.pt"
    result = _cli(["zenn", "classify", cu_frames / "traj.xyz", "--train", cu_frames / "train.xyz",
                   "--label", "cna_min", "--temperature-key", "target_K", "-o", out,
                   "--save-model", model, *QUICK])
    assert result.exit_code == 0, result.output
    assert "trained on 2048 atoms of 8 frames" in result.output
    assert "agreement with the frames' own labels" in result.output
    frames = ase.io.read(out, ":")
    assert len(frames) == 2 and frames[0].info["zenn_temperature_K"] == 1500.0
    assert frames[0].info["zenn_temperature"] == "given"
    labels = frames[0].arrays["zenn_label"]
    assert labels.dtype.kind == "i" and labels.shape == (256,)
    assert set(np.unique(labels)) <= {1, 2, 5}
    # the same labels through the Python API with the saved model
    from quests.zenn import zenn_classify

    again = zenn_classify(ase.io.read(cu_frames / "traj.xyz", ":"),
                          model=ZENNClassifier.load(model))
    np.testing.assert_array_equal(again.labels[0], labels)
    # the written probability is the chosen class's, to the file's 8 decimals
    np.testing.assert_allclose(frames[0].arrays["zenn_probability"],
                               again.probabilities[0].max(axis=1), rtol=0, atol=1e-7)
    assert again.probabilities[0].argmax(axis=1).tolist() == [
        again.classes.tolist().index(c) for c in labels]
    # a saved model, temperatures inferred from the atoms, the table as JSON
    table = cu_frames / "table.json"
    result = _cli(["zenn", "classify", cu_frames / "traj.xyz", "--model", model,
                   "--infer-temperature", "-o", table, "-q"])
    assert result.exit_code == 0, result.output
    import json

    doc = json.loads(table.read_text())
    assert [row["temperature"] for row in doc["frames"]] == ["inferred", "inferred"]
    assert doc["parameters"]["label_key"] == "cna_min" and doc["parameters"]["k"] == 12


def test_cli_learns_source_temperatures(cu_frames, tmp_path):
    import ase.io

    frames = ase.io.read(cu_frames / "train.xyz", ":")
    for atoms in frames:
        atoms.info["run"] = int(atoms.info["target_K"] == 1300.0) + 2 * (
            atoms.info["phase"] == "liquid")
    ase.io.write(tmp_path / "runs.xyz", frames)
    result = _cli(["zenn", "classify", cu_frames / "traj.xyz", "--train", tmp_path / "runs.xyz",
                   "--label", "cna_min", "--source-key", "run", "--source-temperature",
                   "0=1200", "--source-temperature", "1=1300", "--infer-temperature", *QUICK])
    assert result.exit_code == 0, result.output
    assert "source temperatures 0: 1200 K, 1: 1300 K, 2: " in result.output


@pytest.mark.parametrize("extra, match", [
    ([], "exactly one"),
    (["--train", "train.xyz", "--model", "model.pt"], "exactly one"),
    (["--model", "train.xyz"], "not a ZENN classifier file"),
    (["--train", "train.xyz", "--temperature-key", "target_K"], "label array"),
    (["--train", "train.xyz", "--label", "nothing", "--temperature-key", "target_K"],
     "has no per-atom array 'nothing'"),
    (["--train", "train.xyz", "--label", "cna_min", "--temperature-key", "nothing"],
     "has no info key 'nothing'"),
    (["--train", "train.xyz", "--label", "cna_min"], "temperature key or a source key"),
    (["--train", "train.xyz", "--label", "cna_min", "--temperature-key", "target_K",
      "--source-key", "seed"], "temperature key or a source key"),
    (["--train", "train.xyz", "--label", "cna_min", "--source-key", "target_K",
      "--source-temperature", "1200=1200"], "at least two sources"),
    (["--train", "train.xyz", "--label", "cna_min", "--source-key", "target_K",
      "--source-temperature", "1200=1200", "--source-temperature", "1400=1400"],
     "names source 1400"),
    (["--train", "train.xyz", "--label", "cna_min", "--source-key", "phase"],
     "must be a number"),
    (["--train", "train.xyz", "--label", "cna_min", "--source-key", "target_K",
      "--source-temperature", "zero=1200"], "SOURCE=T"),
    (["--train", "train.xyz", "--label", "cna_min", "--temperature-key", "target_K",
      "--hidden", "8,x"], "--hidden"),
    (["--train", "train.xyz", "--label", "phase_code", "--temperature-key", "target_K"],
     "one class only"),
    (["--train", "missing.xyz", "--label", "cna_min", "--temperature-key", "target_K"],
     "missing.xyz"),
])
def test_cli_bad_input(cu_frames, extra, match):
    import ase.io

    if not (cu_frames / "one_class.xyz").exists():
        frames = ase.io.read(cu_frames / "train.xyz", ":")
        for atoms in frames:
            atoms.arrays["phase_code"] = np.ones(len(atoms), int)
        ase.io.write(cu_frames / "one_class.xyz", frames)
    if (cu_frames / "model.pt").exists():
        (cu_frames / "model.pt").unlink()
    (cu_frames / "model.pt").write_bytes(b"")
    args = [cu_frames / a if a.endswith((".xyz", ".pt")) else a for a in extra]
    args = [cu_frames / "one_class.xyz" if "phase_code" in extra and str(a).endswith(
        "train.xyz") else a for a in args]
    quick = [] if extra[:1] == ["--model"] else QUICK  # a model brings its own settings
    _bad(_cli(["zenn", "classify", cu_frames / "traj.xyz", *quick, *args]), match)


def test_cli_model_refuses_training_options_and_traj_without_temperature(cu_frames, tmp_path):
    import ase.io

    model = tmp_path / "m.pt"
    assert _cli(["zenn", "classify", cu_frames / "traj.xyz", "--train", cu_frames / "train.xyz",
                 "--label", "cna_min", "--temperature-key", "target_K", "--save-model", model,
                 *QUICK]).exit_code == 0
    _bad(_cli(["zenn", "classify", cu_frames / "traj.xyz", "--model", model, "--label",
               "cna_min"]), "go with --train")
    _bad(_cli(["zenn", "classify", cu_frames / "traj.xyz", "--model", model, "-k", "12"]),
         "-k/--neighbors go with --train")
    frames = ase.io.read(cu_frames / "traj.xyz", ":")
    for atoms in frames:
        del atoms.info["target_K"]
    ase.io.write(tmp_path / "bare.xyz", frames)
    _bad(_cli(["zenn", "classify", tmp_path / "bare.xyz", "--model", model, "-q"]),
         "infer it from the atoms")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_gives_the_cpu_probabilities(fitted, tmp_path):
    clf, (x, y, t) = fitted
    clf.save(tmp_path / "m.pt")
    on_gpu = ZENNClassifier.load(tmp_path / "m.pt", device="cuda")
    np.testing.assert_allclose(on_gpu.predict_proba(x, temperature=t),
                               clf.predict_proba(x, temperature=t), atol=1e-12)
    trained = ZENNClassifier(hidden=(8,), max_iter=20, random_state=0, device="cuda")
    assert trained.fit(x, y, temperature=t).predict_proba(x, temperature=t).shape == (len(y), 3)


def test_the_inputs_likelihood_never_moves_the_classifier():
    # the same seed with and without the inputs' term: the class terms, the learnt source
    # temperature and the probabilities are the same, with Adam, L-BFGS and the L2 penalty
    rng = np.random.default_rng(1)
    temps = np.array([300.0, 600.0, 900.0])
    x = rng.uniform(-1, 1, (300, 1))
    sources = np.repeat([0, 1, 2], 100)
    p = _two_class(x[:, 0], temps[sources])
    y = (rng.random(300) < p).astype(int)
    fits = [ZENNClassifier(hidden=(8,), alpha=1e-2, input_weight=w, random_state=0, max_iter=40,
                           lbfgs_steps=20).fit(x, y, sources=sources,
                                               source_temperatures={0: 300.0, 2: 900.0})
            for w in (0.0, 1.0)]
    assert fits[0].source_temperatures_ == fits[1].source_temperatures_
    np.testing.assert_array_equal(fits[0].predict_proba(x, temperature=500.0),
                                  fits[1].predict_proba(x, temperature=500.0))


def test_a_refit_forgets_and_a_reload_keeps(fitted, tmp_path):
    x, y, t = _three_class_data(n=90)
    clf = ZENNClassifier(hidden=(4,), max_iter=5, random_state=0)
    clf.fit(x, y, sources=np.repeat([0, 1, 2], 30), source_temperatures={0: 300.0, 1: 600.0})
    clf.metadata_ = {"k": 12}
    assert set(clf.source_temperatures_) == {0, 1, 2}
    clf.fit(x, y, temperature=t)
    assert not hasattr(clf, "source_temperatures_") and not hasattr(clf, "metadata_")
    # integer-valued float labels stay integers, and a reload keeps n_iter_
    clf.fit(x, y.astype(float), temperature=t)
    assert clf.classes_.dtype.kind == "i"
    clf.save(tmp_path / "m.pt")
    back = ZENNClassifier.load(tmp_path / "m.pt")
    assert back.n_iter_ == clf.n_iter_ == 5 and back.classes_.tolist() == [0, 1, 2]
    # a model without temperatures takes none
    plain = ZENNClassifier(hidden=(4,), max_iter=5, random_state=0).fit(x, y)
    with pytest.raises(InvalidInputError, match="without temperatures"):
        plain.predict(x, temperature=300.0)


def test_a_classifier_file_is_not_a_free_energy_model(fitted, tmp_path):
    from quests.zenn import ZENN

    clf, _ = fitted
    clf.save(tmp_path / "clf.pt")
    with pytest.raises(InvalidInputError, match="holds a ZENNClassifier"):
        ZENN.load(tmp_path / "clf.pt")
    _bad(_cli(["zenn", "predict", tmp_path / "clf.pt"]), "holds a ZENNClassifier")


@pytest.mark.parametrize("value, match", [("abc", "must be a number"),
                                          (0.7, "must be an integer")])
def test_classify_refuses_bad_sources_and_unseen_species(cu_frames, tmp_path, value, match):
    import ase.io

    from quests.zenn import zenn_classify

    train = ase.io.read(cu_frames / "train.xyz", ":")
    for atoms in train:
        atoms.info["run"] = -1 if atoms.info["target_K"] == 1200.0 else 0
    frames = ase.io.read(cu_frames / "traj.xyz", ":")
    common = dict(training=train, label_key="cna_min", source_key="run",
                  source_temperatures={-1: 1200.0, 0: 1300.0}, k=12,
                  classifier={"hidden": (4,), "max_iter": 5, "random_state": 0})
    # a source id of -1 is a source like any other
    result = zenn_classify(frames, infer_temperature=True, **common)
    assert result.temperature_origin == ["inferred", "inferred"]
    for atoms in frames:
        atoms.info["run"] = -1
    assert zenn_classify(frames, model=result.model).temperatures.tolist() == [1200.0, 1200.0]
    frames[1].info["run"] = value
    with pytest.raises(InvalidInputError, match=match):
        zenn_classify(frames, model=result.model)
    silver = frames[0].copy()
    silver.symbols[:3] = "Ag"
    with pytest.raises(InvalidInputError, match=r"holds species \[47\]"):
        zenn_classify([silver], model=result.model, infer_temperature=True)
    with pytest.raises(InvalidInputError, match="go with a source key"):
        zenn_classify(frames, **{**common, "source_key": None, "temperature_key": "target_K"})
