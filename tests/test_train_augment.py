"""The batched augmentation: each sample gets its own random parameters, a seed replays them, the crop boxes and
probabilities follow the recipe, and the colour ops agree with torchvision's."""

from __future__ import annotations

import torch
import torchvision.transforms.functional as TF

from embnorm.train.augment import (RECIPES, AugmentRecipe, color_jitter, crop_boxes, random_grayscale, recipe_for,
                                   shift_hue, two_views)

torch.set_num_threads(1)
RECIPE = RECIPES["simclr_cifar"]


def same_image_batch(n=64, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    image = torch.randint(0, 256, (1, size, size, 3), generator=g, dtype=torch.uint8)
    return image.expand(n, -1, -1, -1).contiguous()


def test_every_sample_and_view_gets_its_own_parameters():
    x1, x2 = two_views(same_image_batch(), RECIPE, torch.Generator().manual_seed(1))
    flat = torch.cat([x1, x2]).flatten(1)
    distinct = torch.cdist(flat, flat) + torch.eye(len(flat)) > 1e-4
    assert distinct.all()  # 128 views of one image: all different
    assert x1.shape == (64, 3, 16, 16) and x1.dtype == torch.float32
    assert x1.min() >= 0 and x1.max() <= 1


def test_same_seed_reproduces_and_other_seed_differs():
    batch = same_image_batch(seed=3)
    a = two_views(batch, RECIPE, torch.Generator().manual_seed(7))
    b = two_views(batch, RECIPE, torch.Generator().manual_seed(7))
    c = two_views(batch, RECIPE, torch.Generator().manual_seed(8))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.allclose(a[0], c[0])


def test_crop_boxes_follow_the_scale_range_and_fit():
    gen = torch.Generator().manual_seed(0)
    w, h, cx, cy = crop_boxes(20000, (0.2, 1.0), gen, "cpu")
    area, ratio = w * h, w / h
    assert (w <= 1).all() and (h <= 1).all()
    assert (cx.abs() <= 1 - w + 1e-6).all() and (cy.abs() <= 1 - h + 1e-6).all()  # inside the image
    assert area.min() >= 0.2 - 1e-6 and area.max() <= 1.0 + 1e-6
    assert ratio.min() >= 3 / 4 - 1e-5 and ratio.max() <= 4 / 3 + 1e-5
    assert area.std() > 0.1  # spread over the range, not collapsed


def test_grayscale_probability():
    n = 4000
    x = torch.rand(n, 3, 4, 4)
    out = random_grayscale(x, RECIPE, torch.Generator().manual_seed(0))
    gray = (out[:, 0] == out[:, 1]).flatten(1).all(1) & (out[:, 1] == out[:, 2]).flatten(1).all(1)
    assert abs(gray.float().mean().item() - RECIPE.gray_p) < 0.03


def test_hue_shift_matches_torchvision():
    torch.manual_seed(0)
    x = torch.rand(8, 3, 8, 8)
    x[0] = x[0, :1]  # a gray image (no hue)
    x[1, 1] = x[1, 0]  # ties between channels
    shifts = torch.tensor([-0.5, -0.2, -0.1, 0.0, 0.05, 0.2, 0.37, 0.5])
    ours = shift_hue(x, shifts.view(8, 1, 1))
    expected = torch.stack([TF.adjust_hue(x[i], float(shifts[i])) for i in range(8)])
    torch.testing.assert_close(ours, expected, rtol=0, atol=1e-5)


def test_recipe_overrides():
    params = {"augment": "simclr_cifar", "augment_crop_scale": None, "augment_strength": None}
    assert recipe_for(params) == RECIPE == AugmentRecipe(crop_scale=(0.2, 1.0), strength=0.5)
    params.update(augment_crop_scale=[0.08, 1.0], augment_strength=1.0)
    assert recipe_for(params) == RECIPES["simclr"]


def test_skipped_colour_ops_leave_samples_exactly_unchanged():
    x = torch.rand(16, 3, 8, 8)
    out = color_jitter(x, AugmentRecipe(jitter_p=0.0), torch.Generator().manual_seed(0))
    assert torch.equal(out, x)
    out = color_jitter(x, AugmentRecipe(jitter_p=1.0), torch.Generator().manual_seed(0))
    assert (out - x).abs().flatten(1).amax(1).min() > 1e-3  # every sample changed


def test_blends_match_torchvision_contrast_and_saturation():
    from embnorm.train.augment import _blend_, _gray
    torch.manual_seed(1)
    x = torch.rand(6, 3, 8, 8)
    f = torch.tensor([0.6, 0.8, 1.0, 1.1, 1.3, 1.4])
    view = (6, 1, 1, 1)
    # torchvision's float luma weighs R by 0.2989, ours by ITU-R 601's 0.299: gray levels differ by <= 1e-4 * R
    contrast = _blend_(x.clone(), _gray(x).mean(dim=(2, 3), keepdim=True), f.view(view))
    saturation = _blend_(x.clone(), _gray(x), f.view(view))
    torch.testing.assert_close(contrast, torch.stack([TF.adjust_contrast(x[i], float(f[i])) for i in range(6)]),
                               rtol=0, atol=5e-5)
    torch.testing.assert_close(saturation, torch.stack([TF.adjust_saturation(x[i], float(f[i])) for i in range(6)]),
                               rtol=0, atol=5e-5)


def test_colour_ops_leave_their_input_unchanged():
    x = torch.rand(32, 3, 4, 4)
    before = x.clone()
    random_grayscale(x, RECIPE, torch.Generator().manual_seed(0))
    color_jitter(x, AugmentRecipe(jitter_p=1.0), torch.Generator().manual_seed(0))
    assert torch.equal(x, before)


def test_crop_grid_is_affine_grid_of_the_axis_aligned_map():
    import torch.nn.functional as F
    from embnorm.train.augment import crop_grid
    g = torch.Generator().manual_seed(0)
    sx, sy, cx, cy = torch.rand(4, 5, generator=g) * 2 - 1
    zero = torch.zeros(5)
    theta = torch.stack([torch.stack([sx, zero, cx], 1), torch.stack([zero, sy, cy], 1)], 1)
    expected = F.affine_grid(theta, [5, 3, 6, 9], align_corners=False)
    torch.testing.assert_close(crop_grid(sx, sy, cx, cy, 6, 9), expected, rtol=0, atol=1e-6)


def test_picking_samples_by_subset_or_by_select_gives_the_same_views():
    """The CPU path (op on the picked rows only) and the accelerator path (op on all rows, then a select) agree."""
    from embnorm.train.augment import _apply_to
    x = torch.rand(40, 3, 6, 6)
    picked = torch.rand(40, generator=torch.Generator().manual_seed(0)) < 0.5
    shifts = torch.linspace(-0.5, 0.5, 40)

    def op(part, rows):
        return shift_hue(part, shifts[rows].view(-1, 1, 1))

    by_subset = _apply_to(x.clone(), picked, op, subset=True)
    by_select = _apply_to(x.clone(), picked, op, subset=False)
    assert torch.equal(by_subset, by_select)
    assert torch.equal(by_subset[~picked], x[~picked]) and not torch.equal(by_subset[picked], x[picked])
