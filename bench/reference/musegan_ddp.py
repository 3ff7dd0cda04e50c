"""Reference timing: the MuseGAN tutorial's model and WGAN-GP loop under PyTorch DDP (gloo, CPU).

The same model, LayerNorm and loss terms as musegan_train.py, on N processes of T threads each, every
process with its own batch (the global batch is N x --batch), random 0/1 real batches made before timing.
The loop is written the way DDP is meant to be used, so the reference is as strong as plain PyTorch gets:
  - the critic's three terms (real, fake, gradient penalty) go into one backward, so D's gradients are
    averaged by ONE bucketed allreduce per step instead of three;
  - the forwards whose gradients must not be synced run under no_sync();
  - G's BatchNorm keeps per-process statistics (torch.nn.SyncBatchNorm is CUDA-only), and DDP broadcasts
    its buffers from rank 0 at each forward (its default).
Prints one JSON line from rank 0: {"impl": "python-ddp", "ranks": N, "batch": per-rank B, ...}.

Usage: /usr/bin/python3 musegan_ddp.py [--ranks 2] [--batch 16] [--threads 1] [--warmup 5] [--steps 30]
"""
import argparse
import json
import os
import socket
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel as DDP

from musegan_train import (LATENT, MEASURE_RES, N_MEASURES, N_PITCHES, N_TRACKS, Discriminator, Generator,
                           compute_gradient_penalty)


def train_one_step(g, d, d_optimizer, g_optimizer, real, batch):
    latent = torch.randn(batch, LATENT)
    d_optimizer.zero_grad()
    fake = g(latent)
    with d.no_sync():  # D's forwards whose gradients join the penalty's backward below
        d_loss_real = -torch.mean(d(real))
        d_loss_fake = torch.mean(d(fake.detach()))
    penalty = 10.0 * compute_gradient_penalty(d, real.data, fake.detach().data)
    (d_loss_real + d_loss_fake + penalty).backward()  # one synced backward: one allreduce of D's gradients
    d_optimizer.step()
    g_optimizer.zero_grad()
    with d.no_sync():  # D's gradients from the generator's loss are not needed anywhere
        g_loss = -torch.mean(d(fake))
        g_loss.backward()  # G's gradients are synced by G's own DDP hooks
    g_optimizer.step()
    return d_loss_real + d_loss_fake, g_loss


def run(rank, args, port):
    torch.set_num_threads(args.threads)
    dist.init_process_group("gloo", init_method="tcp://127.0.0.1:%d" % port, rank=rank, world_size=args.ranks)
    torch.manual_seed(args.seed)  # the same initial weights everywhere (DDP also broadcasts rank 0's)
    g, d = DDP(Generator()), DDP(Discriminator())
    d_optimizer = torch.optim.Adam(d.parameters(), lr=0.001, betas=(0.5, 0.9))
    g_optimizer = torch.optim.Adam(g.parameters(), lr=0.001, betas=(0.5, 0.9))
    torch.manual_seed(args.seed + 1 + rank)  # each rank its own data and latents
    shape = (args.batch, N_TRACKS, N_MEASURES * MEASURE_RES, N_PITCHES)
    pool = [(torch.rand(shape) < 0.1).float() for _ in range(args.pool)]
    for i in range(args.warmup):
        train_one_step(g, d, d_optimizer, g_optimizer, pool[i % len(pool)], args.batch)
    dist.barrier()
    start = time.perf_counter()
    for i in range(args.steps):
        d_loss, g_loss = train_one_step(g, d, d_optimizer, g_optimizer, pool[i % len(pool)], args.batch)
    dist.barrier()
    elapsed = time.perf_counter() - start
    if not (torch.isfinite(d_loss) and torch.isfinite(g_loss)):
        raise SystemExit("non-finite loss after timing: d=%s g=%s" % (d_loss, g_loss))
    if rank == 0:
        print(json.dumps({"impl": "python-ddp", "ranks": args.ranks, "batch": args.batch, "threads": args.threads,
                          "steps": args.steps, "seconds": round(elapsed, 4),
                          "steps_per_s": round(args.steps / elapsed, 3),
                          "d_loss": float(d_loss), "g_loss": float(g_loss)}), flush=True)
    dist.destroy_process_group()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--batch", type=int, default=16, help="samples per rank per step")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads per rank")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pool", type=int, default=8, help="distinct random real batches per rank")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    with socket.socket() as s:  # a free loopback port for the rendezvous
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(run, args=(args, port), nprocs=args.ranks, join=True)


if __name__ == "__main__":
    main()
