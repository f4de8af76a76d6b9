# Where the recipes' parallel jobs (--nj: feature extraction, decoding) run, as
# Kaldi's cmd.sh, for every recipe at once: recipes/TEMPLATE/ctc.sh sources this
# file, then recipes/<corpus>/cmd.sh if that recipe has one (to run it alone
# elsewhere), and `--cmd "..."` on run.sh's command line overrides both.
# The launchers:
#   local [--max-parallel N]     processes on this machine (all at once, or N at a time)
#   slurm [sbatch options]       one Slurm job array per step (sbatch --array --wait)
#   srun [srun options]          one srun per job, e.g. inside an salloc allocation
# Each job logs to OUT/log/<command>.<job>.log; a failed job stops the recipe
# with the path of its log.  On a cluster, swap the two lines below (set the
# partition and limits your site needs; LibriSpeech's jobs want --mem=8G).
export cmd="local"
# export cmd="slurm --partition=cpu --time=4:00:00 --cpus-per-task=2 --mem=4G"
