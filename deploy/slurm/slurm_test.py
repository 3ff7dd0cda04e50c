#!/usr/bin/python3
"""Integration test of the Slurm templates (deploy/slurm/*.sbatch) on a private single-node Slurm.

The test starts its own munged (private key and socket), slurmctld and slurmd (`slurmd -N node1`, free ports
picked at run time) in a fresh temporary directory. It also starts a real tutti-coordinator on loopback with
token auth. Then it runs six cases:

  A  tutti-trial.sbatch, `sbatch -n 2`: a 40-step 2-rank trial is leased and COMPLETED, checkpoints stored.
  B  tutti-trial.sbatch with a 100000-step trial: once it is RUNNING with a stored checkpoint,
     `scancel --signal=USR1 JOB` sends SIGUSR1 to the step's tasks, as Slurm's `--signal=USR1@T` does before
     the time limit. The trial must go back to QUEUED with its final checkpoint stored and no restart
     counted, and the Slurm job must end COMPLETED.
  C  tutti-agent.sbatch with a real time limit: `sbatch -t 1 --signal=B:USR1@15`. The agent leases the
     handed-back trial, which resumes from its checkpoint. Slurm's own pre-timeout signal reaches the batch
     shell, and the trap forwards it to srun. The trial must be handed back again (QUEUED, further on, no
     restart), and the job must end COMPLETED before its time limit, without leasing anything more.
  D  tutti-agent.sbatch cancelled: a plain `scancel` while the agent runs the long trial. The step's tasks get
     SIGTERM once from Slurm (the agent must not pass on a second one, on which tutti-worker would exit at
     once). The trial must be handed back (QUEUED, no restart), and the loop must end.
  E  tutti-agent.sbatch loop: the long trial is killed (`tutti kill --trial`), two 40-step trials are
     queued, and one allocation runs both, one after the other. Then tutti-worker's exit code 4 ("no trial
     queued") ends the loop, and the job ends COMPLETED.
  F  both templates when srun cannot launch the step: a PMIx directory of the step is made in advance, so
     the tasks fail to launch, yet srun exits 0 (Slurm 22.05). The agent must count those rounds as
     failures and stop after TUTTI_MAX_FAILURES=2 of them; the trial template must fail. Both jobs must end
     FAILED with exit 1.

Exit codes: 0 pass, 1 fail (with the job outputs and daemon logs), 77 skip (Slurm or munge missing, not root,
or the daemons would not start; the reason is printed). Run it with Debian's python3 (stdlib only):

  /usr/bin/python3 deploy/slurm/slurm_test.py --bin build/bin [--keep]

Every process the test starts is stopped by its pid in a `finally` block. Its Slurm jobs are scancelled
first. Any process left behind by the jobs (slurmstepd, tutti-worker) is found by the private SLURM_CONF
in its environment and stopped by its pid.
"""

import argparse
import ctypes
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
TRIAL_TEMPLATE = HERE / "tutti-trial.sbatch"
AGENT_TEMPLATE = HERE / "tutti-agent.sbatch"
SKIP = 77
INSTALL_HINT = "apt-get install slurm-wlm munge"
SHORT_STEPS = 40
LONG_STEPS = 100000
OVERALL_BUDGET_S = 540  # ctest's TIMEOUT is 600: leave time to clean up


class Skip(Exception):
    pass


class Fail(Exception):
    pass


def log(message):
    print(message, flush=True)


def tail(path, lines=40):
    try:
        text = Path(path).read_text(errors="replace")
    except OSError as e:
        return f"({path}: {e.strerror})"
    return "\n".join(text.splitlines()[-lines:])


def find_tool(name):
    found = shutil.which(name)
    if found:
        return found
    for d in ("/usr/sbin", "/sbin", "/usr/local/sbin"):
        candidate = os.path.join(d, name)
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def free_ports(count):
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def die_with_parent():
    """preexec_fn: the child gets SIGTERM if this test dies without cleaning up (e.g. SIGKILL by ctest)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Harness:
    def __init__(self, bin_dir, keep):
        self.bin = Path(bin_dir).resolve()
        self.keep = keep
        self.start = time.monotonic()
        self.deadline = self.start + OVERALL_BUDGET_S
        self.dir = None
        self.procs = []       # (name, Popen), stopped in reverse order
        self.jobs = []        # Slurm job ids, scancelled at the end
        self.long_trial = None
        self.tools = {}
        self.env = None
        self.conf = None
        self.coord_address = None
        self.token_file = None
        self.coord_log = None

    # ---- helpers -----------------------------------------------------------------------------------------
    def remaining(self):
        return self.deadline - time.monotonic()

    def run(self, argv, timeout=60, check=True, env=None):
        try:
            r = subprocess.run(argv, env=env or self.env, cwd=self.dir, capture_output=True, text=True,
                               timeout=min(timeout, max(self.remaining(), 5)))
        except subprocess.TimeoutExpired:
            raise Fail(f"timed out after {timeout} s: {' '.join(map(str, argv))}")
        if check and r.returncode != 0:
            raise Fail(f"`{' '.join(map(str, argv))}` exited {r.returncode}:\n{r.stdout}{r.stderr}")
        return r

    def spawn(self, name, argv, log_path, env=None):
        out = open(log_path, "ab")
        p = subprocess.Popen(argv, env=env or self.env, cwd=self.dir, stdout=out, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)
        out.close()
        self.procs.append((name, p))
        return p

    def tutti(self, *args, check=True):
        return self.run([str(self.bin / "tutti"), *map(str, args), "--coordinator", self.coord_address,
                         "--token-file", self.token_file], check=check)

    def trial(self, trial_id):
        r = self.tutti("trials", self.trial_experiment[trial_id], "--json")
        for t in json.loads(r.stdout).get("trials", []):
            if int(t["id"]) == trial_id:
                return t
        raise Fail(f"trial {trial_id} is not listed by `tutti trials`")

    def checkpoints(self, trial_id):
        r = self.tutti("checkpoints", trial_id, "--json")
        return json.loads(r.stdout).get("checkpoints", [])

    def submit(self, steps, *overrides):
        sets = [arg for o in (f"train.steps={steps}", *overrides) for arg in ("--set", o)]
        r = self.tutti("submit", self.job_file, *sets, "--json")
        answer = json.loads(r.stdout)
        trial = int(answer["trials"][0]["id"])
        self.trial_experiment[trial] = int(answer["experiment"]["id"])
        return trial

    def sbatch(self, template, extra_args, extra_env):
        env = dict(self.env)
        env.update({"TUTTI_COORDINATOR": self.coord_address, "TUTTI_TOKEN_FILE": self.token_file,
                    "TUTTI_BIN": str(self.bin), "TUTTI_WORK_DIR": str(self.dir / "work")})
        env.update(extra_env)
        r = self.run([self.tools["sbatch"], "--parsable", "-o", str(self.dir / "slurm-%j.out"), *extra_args,
                      str(template)], env=env)
        job = r.stdout.strip().split(";")[0]
        if not job.isdigit():
            raise Fail(f"sbatch printed no job id: {r.stdout}{r.stderr}")
        self.jobs.append(job)
        return job

    def job_info(self, job):
        r = self.run([self.tools["scontrol"], "show", "job", "-o", job], check=False)
        fields = dict(re.findall(r"(\w+)=(\S*)", r.stdout))
        return fields.get("JobState", "GONE"), fields.get("ExitCode", "?")

    def job_output(self, job):
        return tail(self.dir / f"slurm-{job}.out", 200)

    def wait_for(self, what, predicate, timeout):
        limit = time.monotonic() + min(timeout, self.remaining())
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > limit:
                raise Fail(f"timed out after {timeout} s waiting for {what}")
            time.sleep(1)

    def wait_trial(self, what, trial, job, predicate, timeout):
        """Waits until predicate(trial row) holds; fails at once when the Slurm job ended first."""

        def check():
            t = self.trial(trial)
            if predicate(t):
                return t
            state, code = self.job_info(job)
            if state not in ("PENDING", "CONFIGURING", "RUNNING", "COMPLETING"):
                t = self.trial(trial)  # the job may have ended just after the trial changed
                if predicate(t):
                    return t
                raise Fail(f"Slurm job {job} ended ({state}, exit {code}) while waiting for {what}; trial {trial} is "
                           f"{t['state']} at step {t['step']}: {t.get('message')}\n--- output of Slurm job {job}\n"
                           + self.job_output(job))
            return None

        return self.wait_for(what, check, timeout)

    def wait_job_end(self, job, timeout):
        ended = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED",
                 "BOOT_FAIL", "DEADLINE", "GONE")

        def done():
            state, code = self.job_info(job)
            return (state, code) if state in ended else None

        return self.wait_for(f"Slurm job {job} to end", done, timeout)

    # ---- set-up ------------------------------------------------------------------------------------------
    def check_prerequisites(self):
        if not sys.platform.startswith("linux"):
            raise Skip("needs Linux")
        if os.geteuid() != 0:
            raise Skip("needs root: the private slurmd runs jobs with SlurmUser=root")
        for tool in ("munged", "mungekey", "munge", "unmunge", "slurmctld", "slurmd", "sbatch", "srun", "squeue",
                     "scancel", "scontrol", "sinfo"):
            path = find_tool(tool)
            if path is None:
                raise Skip(f"{tool} not found: {INSTALL_HINT}")
            self.tools[tool] = path
        for name in ("tutti", "tutti-worker", "tutti-coordinator"):
            if not os.access(self.bin / name, os.X_OK):
                raise Fail(f"{self.bin / name} is missing: build Tutti first (--bin names the directory)")

    def make_dir(self):
        base = tempfile.gettempdir()
        if len(base) > 60:  # munge's socket path must fit in sockaddr_un
            base = "/tmp"
        self.dir = Path(tempfile.mkdtemp(prefix="tutti-slurm-", dir=base))
        os.chmod(self.dir, 0o755)  # munged wants execute permission for all on its socket's directories
        for sub in ("munge", "slurm/state", "slurm/spool", "slurm/log", "work", "home", "tmp"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir / "munge", 0o755)

        base_env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("SLURM_", "SBATCH_", "SRUN_", "SALLOC_", "PMIX_", "PMI_", "OMPI_",
                                         "TUTTI_"))}
        base_env["PATH"] = base_env.get("PATH", "/usr/bin:/bin") + ":/usr/sbin:/sbin"
        self.conf = str(self.dir / "slurm" / "slurm.conf")
        base_env["SLURM_CONF"] = self.conf
        self.env = base_env

    def start_munge(self):
        m = self.dir / "munge"
        self.munge_socket = str(m / "munge.socket.2")
        self.run([self.tools["mungekey"], "--create", f"--keyfile={m / 'munge.key'}"])
        self.spawn("munged", [self.tools["munged"], "-F", f"--key-file={m / 'munge.key'}",
                              f"--socket={self.munge_socket}", f"--pid-file={m / 'munged.pid'}",
                              f"--log-file={m / 'munged.log'}", f"--seed-file={m / 'munged.seed'}"],
                   m / "munged.out")
        limit = time.monotonic() + 15
        while time.monotonic() < limit:
            if os.path.exists(self.munge_socket):
                cred = subprocess.run([self.tools["munge"], "-S", self.munge_socket, "-n"], capture_output=True)
                if cred.returncode == 0:
                    ok = subprocess.run([self.tools["unmunge"], "-S", self.munge_socket], input=cred.stdout,
                                        capture_output=True)
                    if ok.returncode == 0:
                        return
            if self.procs[-1][1].poll() is not None:
                break
            time.sleep(0.2)
        raise Skip("munged did not start:\n" + tail(m / "munged.out") + "\n" + tail(m / "munged.log"))

    def start_slurm(self):
        s = self.dir / "slurm"
        ctld_port, d_port = free_ports(2)
        cpus = os.cpu_count() or 1
        lines = [
            "ClusterName=tutti-test",
            "SlurmctldHost=localhost",
            f"SlurmctldPort={ctld_port}",
            f"SlurmdPort={d_port}",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            f"AuthInfo=socket={self.munge_socket}",
            f"StateSaveLocation={s / 'state'}",
            f"SlurmdSpoolDir={s / 'spool'}",
            f"TmpFS={self.dir / 'tmp'}",  # PMIx's per-step directories: not shared with other runs
            f"SlurmctldPidFile={s / 'slurmctld.pid'}",
            f"SlurmdPidFile={s / 'slurmd.pid'}",
            f"SlurmctldLogFile={s / 'log' / 'slurmctld.log'}",
            f"SlurmdLogFile={s / 'log' / 'slurmd.log'}",
            "MailProg=/bin/true",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "MpiDefault=pmix",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_CPU",
            "ReturnToService=2",
            "MinJobAge=600",
            # Job ids of their own: Open MPI names its shared-memory segments after the PMIx namespace
            # (slurm.pmix.<job>.<step>), so two of these tests running at once with the same job ids crashed
            # each other's ranks (SIGSEGV in mca_btl_vader).
            f"FirstJobId={random.SystemRandom().randint(100_000, 60_000_000)}",
            "KillWait=10",
            "AccountingStorageType=accounting_storage/none",
            "JobAcctGatherType=jobacct_gather/none",
        ]
        if cpus < 2:  # the cases run 2 ranks: pretend to have 2 CPUs
            lines.append("SlurmdParameters=config_overrides")
        lines += [
            f"NodeName=node1 NodeAddr=127.0.0.1 CPUs={max(cpus, 2)} State=UNKNOWN",
            "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
        ]
        Path(self.conf).write_text("\n".join(lines) + "\n")  # Slurm takes one key per line
        ctld = self.spawn("slurmctld", [self.tools["slurmctld"], "-D"], s / "log" / "slurmctld.out")
        d = self.spawn("slurmd", [self.tools["slurmd"], "-D", "-N", "node1"], s / "log" / "slurmd.out")
        limit = time.monotonic() + 30
        state = ""
        while time.monotonic() < limit:
            if ctld.poll() is not None or d.poll() is not None:
                break
            r = subprocess.run([self.tools["sinfo"], "-h", "-n", "node1", "-o", "%t"], env=self.env,
                               capture_output=True, text=True)
            state = r.stdout.strip()
            if state == "idle":
                break
            time.sleep(0.5)
        if state != "idle":
            exited = [f"{name} exited with code {p.returncode}" for name, p in (("slurmctld", ctld), ("slurmd", d))
                      if p.poll() is not None]
            why = "; ".join(exited) if exited else f"node1 is {state or 'unknown'} after 30 s"
            raise Skip(f"the private Slurm did not come up ({why}):\n"
                       + "--- slurmctld\n" + self.daemon_tail("slurmctld") + "\n"
                       + "--- slurmd\n" + self.daemon_tail("slurmd"))
        mpi = subprocess.run([self.tools["srun"], "--mpi=list"], env=self.env, capture_output=True, text=True)
        if "pmix" not in mpi.stdout + mpi.stderr:
            raise Skip("Slurm has no pmix MPI plugin (`srun --mpi=list`): " + (mpi.stdout + mpi.stderr).strip())

    def daemon_tail(self, name, lines=15):
        """The end of a Slurm daemon's log file, or of what it printed when it wrote no log."""
        log_file = self.dir / "slurm" / "log" / f"{name}.log"
        if log_file.exists() and log_file.stat().st_size > 0:
            return tail(log_file, lines)
        return tail(self.dir / "slurm" / "log" / f"{name}.out", lines)

    def start_coordinator(self):
        self.token_file = str(self.dir / "token")
        Path(self.token_file).write_text("slurm-test-token\n")
        address_file = self.dir / "coordinator.address"
        self.coord_log = self.dir / "coordinator.log"
        coord = self.spawn("tutti-coordinator",
                           [str(self.bin / "tutti-coordinator"), "--home", str(self.dir / "home"), "--listen",
                            "127.0.0.1:0", "--address-file", str(address_file), "--token-file", self.token_file,
                            "--heartbeat-seconds", "1", "--lease-seconds", "20"], self.coord_log)
        limit = time.monotonic() + 30
        while time.monotonic() < limit:
            if address_file.exists() and address_file.read_text().strip():
                self.coord_address = address_file.read_text().strip()
                return
            if coord.poll() is not None:
                break
            time.sleep(0.2)
        raise Fail("tutti-coordinator did not start:\n" + tail(self.coord_log))

    def make_job(self):
        tutti = str(self.bin / "tutti")
        self.run([tutti, "synth-lpd", "--out", str(self.dir / "lpd"), "--songs", "60", "--seed", "1"])
        self.run([tutti, "pack", "--lpd", str(self.dir / "lpd"), "--genres", "rock", "--out", str(self.dir / "packs")])
        # The shape of SmallJobYaml (tests/integration/coordinator_test_util.h), with 2 ranks per trial.
        self.job_file = str(self.dir / "job.yaml")
        Path(self.job_file).write_text(
            "name: slurm-test\n"
            f"data:\n  packs_dir: {self.dir / 'packs'}\n  genres: [rock]\n  prefetch_batches: 2\n"
            f"train:\n  steps: {SHORT_STEPS}\n  batch_size: 4\n  seed: 11\n  intra_op_threads: 1\n  log_every: 5\n"
            "checkpoint:\n  every: 10\n  keep: 1000\n"
            "eval:\n  every: 20\n  samples: 8\n"
            "distributed:\n  timeout_s: 30\n  stall_warning_s: 10\n"
            "resources:\n  ranks: 2\n")
        self.trial_experiment = {}

    # ---- the cases ---------------------------------------------------------------------------------------
    def expect(self, condition, message, job=None):
        if not condition:
            if job is not None:
                message += f"\n--- output of Slurm job {job}\n" + self.job_output(job)
            raise Fail(message)

    def case_a_trial_completes(self):
        trial = self.submit(SHORT_STEPS)
        job = self.sbatch(TRIAL_TEMPLATE, ["-n", "2", "-J", "tutti-test-trial"], {})
        t = self.wait_trial(f"trial {trial} to end", trial, job,
                            lambda t: t["state"] in ("TRIAL_COMPLETED", "TRIAL_FAILED", "TRIAL_KILLED"), 240)
        self.expect(t["state"] == "TRIAL_COMPLETED", f"trial {trial} ended {t['state']}: {t.get('message')}", job)
        state, code = self.wait_job_end(job, 60)
        self.expect((state, code) == ("COMPLETED", "0:0"), f"Slurm job {job} ended {state} exit {code}", job)
        self.expect(int(t["step"]) == SHORT_STEPS and t["restarts"] == 0,
                    f"trial {trial}: step {t['step']}, restarts {t['restarts']}", job)
        steps = sorted(int(c["step"]) for c in self.checkpoints(trial))
        self.expect(steps == [10, 20, 30, 40], f"trial {trial}: stored checkpoints at steps {steps}", job)
        self.expect(re.search(rf"trial {trial} \(experiment \d+\) leased to \S+ with 2 rank\(s\)",
                              self.coord_log.read_text()),
                    f"the coordinator's log does not say trial {trial} was leased with 2 ranks", job)
        out = self.job_output(job)
        self.expect("tutti-trial: done" in out, "the job's output lacks 'tutti-trial: done'", job)
        return f"trial {trial}, job {job}: COMPLETED at step {SHORT_STEPS}, 4 checkpoints, 2 ranks"

    def case_b_trial_hand_back(self):
        # A checkpoint every 50 steps (a few seconds): every 10 would queue 6 MB uploads faster than a loaded
        # 2-core machine sends them, and a hand-back first sends everything queued.
        trial = self.submit(LONG_STEPS, "checkpoint.every=50", "checkpoint.keep=2")
        self.long_trial = trial
        job = self.sbatch(TRIAL_TEMPLATE, ["-n", "2", "-J", "tutti-test-handback"], {})

        def running_with_checkpoint(t):
            if t["state"] not in ("TRIAL_QUEUED", "TRIAL_RUNNING"):
                raise Fail(f"trial {trial} is {t['state']}: {t.get('message')}\n" + self.job_output(job))
            return t["state"] == "TRIAL_RUNNING" and int(t["latest_checkpoint_id"]) != 0

        self.wait_trial(f"trial {trial} to run with a stored checkpoint", trial, job, running_with_checkpoint, 240)
        self.run([self.tools["scancel"], "--signal=USR1", job])  # what --signal=USR1@T sends
        self.wait_for(f"trial {trial} to be handed back",
                      lambda: self.trial(trial)["state"] != "TRIAL_RUNNING", 120)
        t = self.trial(trial)
        self.expect(t["state"] == "TRIAL_QUEUED", f"trial {trial} is {t['state']} after SIGUSR1: {t.get('message')}",
                    job)
        self.expect(t["restarts"] == 0, f"trial {trial}: the hand-back counted {t['restarts']} restart(s)", job)
        self.expect("handed back" in t.get("message", ""), f"trial {trial}: message {t.get('message')!r}", job)
        steps = [int(c["step"]) for c in self.checkpoints(trial)]
        self.expect(steps and max(steps) == int(t["step"]),
                    f"trial {trial} stopped at step {t['step']} but its newest stored checkpoint is at "
                    f"{max(steps) if steps else 'none'}", job)
        state, code = self.wait_job_end(job, 60)
        self.expect((state, code) == ("COMPLETED", "0:0"), f"Slurm job {job} ended {state} exit {code}", job)
        self.expect("tutti-trial: done" in self.job_output(job), "the job's output lacks 'tutti-trial: done'", job)
        return (f"trial {trial}, job {job}: scancel --signal=USR1 -> QUEUED at step {t['step']}, final checkpoint "
                f"stored, restarts 0, job COMPLETED")

    def case_c_agent_time_limit(self):
        trial = self.long_trial
        before = int(self.trial(trial)["step"])
        started = time.monotonic()
        job = self.sbatch(AGENT_TEMPLATE, ["-n", "2", "-t", "1", "--signal=B:USR1@15", "-J", "tutti-test-agent-tl"],
                          {"TUTTI_WAIT": "2", "TUTTI_WORKER_ARGS": "--quiet"})
        # Slurm sends the warning signal on its next time-limit check at most ~30 s before `@15` is due, so
        # somewhere 15-45 s into the 60 s job: late enough for the worker to have started and trained, early
        # enough to hand back before the limit.
        state, code = self.wait_job_end(job, 150)
        took = time.monotonic() - started
        out = self.job_output(job)
        t = self.trial(trial)
        self.expect((state, code) == ("COMPLETED", "0:0"),
                    f"Slurm job {job} ended {state} exit {code} (the pre-timeout signal did not stop it in time)", job)
        self.expect(f"resuming at step {before}" in out,
                    f"the agent did not resume trial {trial} from its checkpoint at step {before}", job)
        self.expect("tutti-agent: pre-timeout signal" in out, "the batch shell's USR1 trap did not run", job)
        self.expect("stopped after 1 round(s): pre-timeout signal" in out,
                    "the agent did not stop after the signal", job)
        self.expect(t["state"] == "TRIAL_QUEUED" and t["restarts"] == 0 and int(t["step"]) > before,
                    f"trial {trial}: {t['state']} at step {t['step']} (was {before}), restarts {t['restarts']}", job)
        steps = [int(c["step"]) for c in self.checkpoints(trial)]
        self.expect(steps and max(steps) == int(t["step"]),
                    f"trial {trial}: handed back at step {t['step']}, newest stored checkpoint "
                    f"{max(steps) if steps else 'none'}", job)
        return (f"trial {trial}, job {job}: resumed at step {before}, Slurm's B:USR1@15 (-t 1) -> trap -> srun -> "
                f"QUEUED at step {t['step']}, restarts 0, job COMPLETED after {took:.0f} s")

    def case_d_agent_scancel(self):
        trial = self.long_trial
        job = self.sbatch(AGENT_TEMPLATE, ["-n", "2", "-J", "tutti-test-agent-cancel"],
                          {"TUTTI_WAIT": "2", "TUTTI_WORKER_ARGS": "--quiet"})
        before = int(self.trial(trial)["step"])
        self.wait_trial(f"trial {trial} to run on", trial, job,
                        lambda t: t["state"] == "TRIAL_RUNNING" and int(t["step"]) > before, 120)
        self.run([self.tools["scancel"], job])  # SIGTERM to the batch shell and to the step's tasks, once
        state, code = self.wait_job_end(job, 60)
        self.wait_for("the agent's last line", lambda: "stopped after 1 round(s): SIGTERM" in self.job_output(job), 10)
        t = self.wait_trial(f"trial {trial} to be handed back", trial, job, lambda t: t["state"] != "TRIAL_RUNNING", 30)
        self.expect(state == "CANCELLED", f"Slurm job {job} ended {state} exit {code}", job)
        self.expect(t["state"] == "TRIAL_QUEUED" and t["restarts"] == 0 and "handed back" in t.get("message", ""),
                    f"trial {trial} after scancel: {t['state']} at step {t['step']}, restarts {t['restarts']}: "
                    f"{t.get('message')}", job)
        return f"trial {trial}, job {job}: scancel -> SIGTERM once -> QUEUED at step {t['step']}, restarts 0, loop ended"

    def case_e_agent_loop(self):
        self.tutti("kill", "--trial", self.long_trial)
        t = self.trial(self.long_trial)
        self.expect(t["state"] == "TRIAL_KILLED", f"trial {self.long_trial} is {t['state']} after `tutti kill`")
        first, second = self.submit(SHORT_STEPS), self.submit(SHORT_STEPS)
        job = self.sbatch(AGENT_TEMPLATE, ["-n", "2", "-J", "tutti-test-agent"],
                          {"TUTTI_WAIT": "2", "TUTTI_WORKER_ARGS": "--quiet"})
        state, code = self.wait_job_end(job, 240)
        out = self.job_output(job)
        self.expect((state, code) == ("COMPLETED", "0:0"), f"Slurm job {job} ended {state} exit {code}", job)
        for trial in (first, second):
            t = self.trial(trial)
            self.expect(t["state"] == "TRIAL_COMPLETED" and int(t["step"]) == SHORT_STEPS,
                        f"trial {trial} is {t['state']} at step {t['step']}", job)
        self.expect("round 3: no trial was queued" in out,
                    "the agent did not run two rounds and then stop on 'no trial queued'", job)
        return f"trials {first} and {second}, job {job}: both COMPLETED in one allocation, then exit code 4 ended the loop"

    def case_f_launch_failures(self):
        # A step whose tasks cannot be launched: PMIx refuses to start a step whose directory
        # <TmpFS>/spmix_appdir_<uid>_<job>.<step> already exists. srun still exits 0 then (Slurm 22.05).
        job = self.sbatch(AGENT_TEMPLATE, ["-n", "2", "-J", "tutti-test-agent-fail", "--hold"],
                          {"TUTTI_WAIT": "2", "TUTTI_MAX_FAILURES": "2"})
        for step in range(3):
            (self.dir / "tmp" / f"spmix_appdir_{os.geteuid()}_{job}.{step}").mkdir()
        self.run([self.tools["scontrol"], "release", job])
        state, code = self.wait_job_end(job, 60)
        out = self.job_output(job)
        self.expect(out.count("srun could not launch tutti-worker") == 2 and
                    "2 failed rounds in a row; stopping" in out,
                    "the agent did not count two rounds that srun could not launch and stop", job)
        self.expect((state, code) == ("FAILED", "1:0"), f"Slurm job {job} ended {state} exit {code}", job)
        # The same for the trial template: one step, which must not pass for a trial that ran.
        trial_job = self.sbatch(TRIAL_TEMPLATE, ["-n", "2", "-J", "tutti-test-trial-fail", "--hold"], {"TUTTI_WAIT": "2"})
        (self.dir / "tmp" / f"spmix_appdir_{os.geteuid()}_{trial_job}.0").mkdir()
        self.run([self.tools["scontrol"], "release", trial_job])
        state, code = self.wait_job_end(trial_job, 60)
        self.expect("srun could not launch tutti-worker" in self.job_output(trial_job) and
                    (state, code) == ("FAILED", "1:0"),
                    f"trial template, step not launched: Slurm job {trial_job} ended {state} exit {code}", trial_job)
        return (f"jobs {job} and {trial_job}: srun launched nothing (exit 0) -> the agent stopped after 2 failed "
                f"rounds, the trial template failed; both jobs FAILED 1:0")

    # ---- tear-down ---------------------------------------------------------------------------------------
    def leftover_pids(self):
        """Processes of this test's Slurm (slurmstepd, job shells, workers): SLURM_CONF=<ours> in their environment."""
        marker = f"SLURM_CONF={self.conf}".encode()
        own = {os.getpid()} | {p.pid for _, p in self.procs}
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in own:
                continue
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if marker in f.read().split(b"\0"):
                        pids.append(int(entry))
            except OSError:
                pass
        return pids

    def cleanup(self):
        if self.env is not None and self.jobs and "scancel" in self.tools:
            subprocess.run([self.tools["scancel"], *self.jobs], env=self.env, capture_output=True)
            limit = time.monotonic() + 20
            while time.monotonic() < limit:
                r = subprocess.run([self.tools["squeue"], "-h", "-j", ",".join(self.jobs)], env=self.env,
                                   capture_output=True, text=True)
                if r.returncode != 0 or not r.stdout.strip():
                    break
                time.sleep(0.5)
        # slurmctld first: stopped after slurmd, it took 15 s to exit.
        order = sorted(reversed(self.procs), key=lambda item: item[0] != "slurmctld")
        for name, p in order:
            if p.poll() is None:
                t0 = time.monotonic()
                p.terminate()
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
                if os.environ.get("SLURM_TEST_DEBUG"):
                    log(f"stopped {name} in {time.monotonic() - t0:.1f} s")
        # What the jobs may have left behind (slurmstepd, tutti-worker), once the daemons are gone.
        if self.conf is not None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                pids = self.leftover_pids()
                if pids and os.environ.get("SLURM_TEST_DEBUG"):
                    log(f"leftover {sig}: " + ", ".join(f"{pid} {tail(f'/proc/{pid}/cmdline', 1)}" for pid in pids))
                for pid in pids:
                    try:
                        os.kill(pid, sig)
                    except OSError:
                        pass
                if pids and sig == signal.SIGTERM:
                    time.sleep(2)
        if self.dir is not None and not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def diagnostics(self):
        if self.dir is None:
            return ""
        parts = []
        for out in sorted(self.dir.glob("slurm-*.out")):
            parts.append(f"--- {out.name}\n{tail(out, 60)}")
        parts.append("--- slurmd\n" + self.daemon_tail("slurmd", 30))
        parts.append("--- slurmctld\n" + self.daemon_tail("slurmctld", 30))
        if self.coord_log is not None:
            parts.append("--- coordinator.log\n" + tail(self.coord_log, 40))
        return "\n".join(parts)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True, help="directory holding tutti, tutti-worker, tutti-coordinator")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (its path is printed)")
    args = parser.parse_args()

    def terminated(signum, _frame):
        raise Fail(f"terminated by signal {signum}")

    signal.signal(signal.SIGTERM, terminated)
    h = Harness(args.bin, args.keep)
    code = 1
    try:
        h.check_prerequisites()
        h.make_dir()
        log(f"slurm_test: working in {h.dir}")
        h.start_munge()
        h.start_slurm()
        h.start_coordinator()
        h.make_job()
        log(f"slurm_test: munged, slurmctld, slurmd (node1, {os.cpu_count()} CPUs) and the coordinator "
            f"({h.coord_address}) are up after {time.monotonic() - h.start:.1f} s")
        for name, case in (("A trial template, completes", h.case_a_trial_completes),
                           ("B trial template, SIGUSR1 hand-back", h.case_b_trial_hand_back),
                           ("C agent template, real time limit", h.case_c_agent_time_limit),
                           ("D agent template, scancel", h.case_d_agent_scancel),
                           ("E agent template, loop", h.case_e_agent_loop),
                           ("F both templates, steps that do not launch", h.case_f_launch_failures)):
            t0 = time.monotonic()
            detail = case()
            log(f"PASS {name} ({time.monotonic() - t0:.1f} s): {detail}")
        log(f"slurm_test: PASS in {time.monotonic() - h.start:.1f} s")
        code = 0
    except Skip as e:
        log(f"SKIP: {e}")
        code = SKIP
    except (Fail, KeyboardInterrupt) as e:
        log(f"FAIL: {e or 'interrupted'}")
        log(h.diagnostics())
        code = 1
    except Exception:  # a bug here, or output the test did not expect: still a failure with the logs
        log("FAIL: unexpected error\n" + traceback.format_exc())
        log(h.diagnostics())
        code = 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        h.cleanup()
        if h.keep and h.dir is not None:
            log(f"slurm_test: kept {h.dir}")
    return code


if __name__ == "__main__":
    sys.exit(main())
