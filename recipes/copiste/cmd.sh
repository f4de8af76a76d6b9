# Where run.sh's parallel jobs (--nj) run, as Kaldi's cmd.sh: run.sh sources it,
# and `--cmd "..."` on run.sh's command line overrides it.  The launchers:
#   local [--max-parallel N]     processes on this machine (all at once, or N at a time)
#   slurm [sbatch options]       one Slurm job array per step (sbatch --array --wait)
#   srun [srun options]          one srun per job, e.g. inside an salloc allocation
# Each job logs to OUT/log/<command>.<job>.log; a failed job stops the recipe
# with the path of its log.
export cmd="local"
# export cmd="slurm --partition=cpu --time=4:00:00 --cpus-per-task=2 --mem=4G"
