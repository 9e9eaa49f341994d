"""PyTorch interop: to_torch and from_torch give modules whose outputs agree with the mlplab model."""
import numpy as np
import pytest

import mlplab as ml

torch = pytest.importorskip("torch")
nn = torch.nn

ACTIVATIONS = ["linear", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "softmax",
               {"class_name": "LeakyReLU", "config": {"alpha": 0.3}}]


def torch_output(module, x):
    with torch.no_grad():
        return module(torch.from_numpy(x)).numpy()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation", ACTIVATIONS, ids=str)
def test_to_torch_agrees(activation, dtype):
    model = ml.Sequential([ml.Dense(12, activation, input_dim=5), ml.BatchNormalization(epsilon=0.01),
                           ml.Dropout(0.5), ml.Dense(4), ml.Activation(activation)], seed=2, dtype=dtype)
    x = np.random.default_rng(0).normal(size=(40, 5)).astype(dtype)
    bn = model.layers[1]
    bn.state["moving_mean"][...] = np.linspace(-1, 1, 12)
    bn.state["moving_variance"][...] = np.linspace(0.2, 2, 12)
    bn.params["gamma"][...] = np.linspace(0.5, 1.5, 12)
    module = ml.to_torch(model)
    assert not module.training and module[0].weight.dtype == getattr(torch, dtype)
    tolerance = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(torch_output(module, x), model.predict(x), rtol=tolerance, atol=tolerance)


def test_from_torch_agrees_and_round_trips():
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(6, 10), nn.ReLU(), nn.BatchNorm1d(10, eps=1e-4, momentum=0.2),
                           nn.Sequential(nn.Dropout(0.1), nn.Linear(10, 8), nn.ELU(0.7)), nn.Linear(8, 8),
                           nn.Tanh(), nn.Identity(), nn.Linear(8, 3), nn.Softmax(dim=-1))
    module.train()
    module(torch.randn(64, 6))  # non-trivial running statistics
    module.eval()
    model = ml.from_torch(module, seed=0)
    assert [type(layer).__name__ for layer in model.layers] == ["Dense", "BatchNormalization", "Dropout", "Dense",
                                                                "Dense", "Dense"]
    assert model.layers[1].momentum == pytest.approx(0.8) and model.layers[1].epsilon == 1e-4
    x = np.random.default_rng(1).normal(size=(20, 6)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x), torch_output(module, x), rtol=1e-5, atol=1e-6)
    back = ml.to_torch(model)
    np.testing.assert_allclose(torch_output(back, x), torch_output(module, x), rtol=1e-5, atol=1e-6)


def test_from_torch_flatten_needs_input_shape_and_refuses_unknown_modules():
    module = nn.Sequential(nn.Flatten(), nn.Linear(12, 2)).double()
    with pytest.raises(ValueError, match="input_shape"):
        ml.from_torch(module)
    model = ml.from_torch(module, input_shape=(3, 4))
    x = np.random.default_rng(2).normal(size=(5, 3, 4))
    assert model.dtype == np.float64
    np.testing.assert_allclose(model.predict(x), torch_output(module, x), rtol=1e-12)
    with pytest.raises(ValueError, match="Conv1d"):
        ml.from_torch(nn.Sequential(nn.Linear(2, 2), nn.Conv1d(1, 1, 1)))
    with pytest.raises(TypeError, match="torch.nn.Sequential"):
        ml.from_torch([nn.Linear(2, 2)])
    with pytest.raises(ValueError, match="Step"):
        ml.to_torch(ml.Sequential([ml.Dense(2, "step", input_dim=2)]))
