"""Checks shared by the detection and segmentation config tests."""
import torch


def assert_training_steps_lower_the_loss(model, data, total_loss) -> None:
    """Three AdamW steps on one batch lower its loss, with gradients
    reaching the first layer of the backbone."""
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    before = total_loss(model, data)
    assert torch.isfinite(before)
    for _ in range(3):
        optimizer.zero_grad()
        total_loss(model, data).backward()
        assert model.backbone.patch_embed.proj.weight.grad.abs().sum() > 0
        optimizer.step()
    assert total_loss(model, data).item() < before.item()
