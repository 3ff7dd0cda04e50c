#!/usr/bin/env python3
"""Reference timing: the MuseGAN tutorial's model and WGAN-GP loop in plain PyTorch.

The model, LayerNorm and training step are the tutorial's (../shared/lpd5.md section 4): per-track
branches as separate modules, LayerNorm from pytorch/pytorch#1959, three backward calls per critic
step. No data files are read: real batches are random 0/1 tensors from a fixed seed, generated
before timing. Prints one JSON line: {"impl": "python", "batch": B, "threads": T, "steps_per_s": ...}.

Usage: /usr/bin/python3 musegan_train.py [--batch 16] [--threads 2] [--warmup 5] [--steps 50]
"""
import argparse
import json
import time

import torch

N_TRACKS, N_MEASURES, MEASURE_RES, N_PITCHES, LATENT = 5, 4, 16, 72, 128


class GeneraterBlock(torch.nn.Module):
    def __init__(self, in_dim, out_dim, kernel, stride):
        super().__init__()
        self.transconv = torch.nn.ConvTranspose3d(in_dim, out_dim, kernel, stride)
        self.batchnorm = torch.nn.BatchNorm3d(out_dim)

    def forward(self, x):
        return torch.nn.functional.relu(self.batchnorm(self.transconv(x)))


class Generator(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.transconv0 = GeneraterBlock(LATENT, 256, (4, 1, 1), (4, 1, 1))
        self.transconv1 = GeneraterBlock(256, 128, (1, 4, 1), (1, 4, 1))
        self.transconv2 = GeneraterBlock(128, 64, (1, 1, 4), (1, 1, 4))
        self.transconv3 = GeneraterBlock(64, 32, (1, 1, 3), (1, 1, 1))
        self.transconv4 = torch.nn.ModuleList(
            [GeneraterBlock(32, 16, (1, 4, 1), (1, 4, 1)) for _ in range(N_TRACKS)])
        self.transconv5 = torch.nn.ModuleList(
            [GeneraterBlock(16, 1, (1, 1, 12), (1, 1, 12)) for _ in range(N_TRACKS)])

    def forward(self, x):
        x = x.view(-1, LATENT, 1, 1, 1)
        x = self.transconv0(x)
        x = self.transconv1(x)
        x = self.transconv2(x)
        x = self.transconv3(x)
        x = [transconv(x) for transconv in self.transconv4]
        x = torch.cat([transconv(x_) for x_, transconv in zip(x, self.transconv5)], 1)
        return x.view(-1, N_TRACKS, N_MEASURES * MEASURE_RES, N_PITCHES)


class LayerNorm(torch.nn.Module):
    """The tutorial's LayerNorm (copied there from pytorch/pytorch#1959)."""

    def __init__(self, n_features, eps=1e-5, affine=True):
        super().__init__()
        self.n_features, self.affine, self.eps = n_features, affine, eps
        if self.affine:
            self.gamma = torch.nn.Parameter(torch.Tensor(n_features).uniform_())
            self.beta = torch.nn.Parameter(torch.zeros(n_features))

    def forward(self, x):
        shape = [-1] + [1] * (x.dim() - 1)
        mean = x.view(x.size(0), -1).mean(1).view(*shape)
        std = x.view(x.size(0), -1).std(1).view(*shape)
        y = (x - mean) / (std + self.eps)
        if self.affine:
            shape = [1, -1] + [1] * (x.dim() - 2)
            y = self.gamma.view(*shape) * y + self.beta.view(*shape)
        return y


class DiscriminatorBlock(torch.nn.Module):
    def __init__(self, in_dim, out_dim, kernel, stride):
        super().__init__()
        self.transconv = torch.nn.Conv3d(in_dim, out_dim, kernel, stride)
        self.layernorm = LayerNorm(out_dim)

    def forward(self, x):
        return torch.nn.functional.leaky_relu(self.layernorm(self.transconv(x)))


class Discriminator(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv0 = torch.nn.ModuleList(
            [DiscriminatorBlock(1, 16, (1, 1, 12), (1, 1, 12)) for _ in range(N_TRACKS)])
        self.conv1 = torch.nn.ModuleList(
            [DiscriminatorBlock(16, 16, (1, 4, 1), (1, 4, 1)) for _ in range(N_TRACKS)])
        self.conv2 = DiscriminatorBlock(16 * 5, 64, (1, 1, 3), (1, 1, 1))
        self.conv3 = DiscriminatorBlock(64, 64, (1, 1, 4), (1, 1, 4))
        self.conv4 = DiscriminatorBlock(64, 128, (1, 4, 1), (1, 4, 1))
        self.conv5 = DiscriminatorBlock(128, 128, (2, 1, 1), (1, 1, 1))
        self.conv6 = DiscriminatorBlock(128, 256, (3, 1, 1), (3, 1, 1))
        self.dense = torch.nn.Linear(256, 1)

    def forward(self, x):
        x = x.view(-1, N_TRACKS, N_MEASURES, MEASURE_RES, N_PITCHES)
        x = [conv(x[:, [i]]) for i, conv in enumerate(self.conv0)]
        x = torch.cat([conv(x_) for x_, conv in zip(x, self.conv1)], 1)
        x = self.conv2(x)
        x = self.conv3(x)
        x = self.conv4(x)
        x = self.conv5(x)
        x = self.conv6(x)
        return self.dense(x.view(-1, 256))


def compute_gradient_penalty(discriminator, real_samples, fake_samples):
    alpha = torch.rand(real_samples.size(0), 1, 1, 1)
    interpolates = (alpha * real_samples + ((1 - alpha) * fake_samples)).requires_grad_(True)
    d_interpolates = discriminator(interpolates)
    fake = torch.ones(real_samples.size(0), 1)
    gradients = torch.autograd.grad(
        outputs=d_interpolates, inputs=interpolates, grad_outputs=fake,
        create_graph=True, retain_graph=True, only_inputs=True)[0]
    gradients = gradients.view(gradients.size(0), -1)
    return ((gradients.norm(2, dim=1) - 1) ** 2).mean()


def train_one_step(generator, discriminator, d_optimizer, g_optimizer, real_samples, batch_size):
    latent = torch.randn(batch_size, LATENT)
    d_optimizer.zero_grad()
    prediction_real = discriminator(real_samples)
    d_loss_real = -torch.mean(prediction_real)
    d_loss_real.backward()
    fake_samples = generator(latent)
    prediction_fake_d = discriminator(fake_samples.detach())
    d_loss_fake = torch.mean(prediction_fake_d)
    d_loss_fake.backward()
    gradient_penalty = 10.0 * compute_gradient_penalty(
        discriminator, real_samples.data, fake_samples.data)
    gradient_penalty.backward()
    d_optimizer.step()
    g_optimizer.zero_grad()
    prediction_fake_g = discriminator(fake_samples)
    g_loss = -torch.mean(prediction_fake_g)
    g_loss.backward()
    g_optimizer.step()
    return d_loss_real + d_loss_fake, g_loss


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pool", type=int, default=8, help="distinct random real batches")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    generator, discriminator = Generator(), Discriminator()
    d_optimizer = torch.optim.Adam(discriminator.parameters(), lr=0.001, betas=(0.5, 0.9))
    g_optimizer = torch.optim.Adam(generator.parameters(), lr=0.001, betas=(0.5, 0.9))
    shape = (args.batch, N_TRACKS, N_MEASURES * MEASURE_RES, N_PITCHES)
    pool = [(torch.rand(shape) < 0.1).float() for _ in range(args.pool)]
    generator.train()
    discriminator.train()

    for i in range(args.warmup):
        train_one_step(generator, discriminator, d_optimizer, g_optimizer, pool[i % len(pool)],
                       args.batch)
    start = time.perf_counter()
    for i in range(args.steps):
        d_loss, g_loss = train_one_step(generator, discriminator, d_optimizer, g_optimizer,
                                        pool[i % len(pool)], args.batch)
    elapsed = time.perf_counter() - start
    if not (torch.isfinite(d_loss) and torch.isfinite(g_loss)):
        raise SystemExit("non-finite loss after timing: d=%s g=%s" % (d_loss, g_loss))
    print(json.dumps({"impl": "python", "batch": args.batch, "threads": args.threads,
                      "steps": args.steps, "seconds": round(elapsed, 4),
                      "steps_per_s": round(args.steps / elapsed, 3),
                      "d_loss": float(d_loss), "g_loss": float(g_loss)}))


if __name__ == "__main__":
    main()
