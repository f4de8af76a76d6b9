# Launcher for the parallel stages of run.sh (feature extraction, decoding), which
# pass it as `--nj N --cmd "$cmd"`: $nj local processes by default.  On a Slurm
# cluster, use the second line instead (a job array; set the partition and limits
# your site needs).
export cmd=local
# export cmd="slurm --partition=cpu --time=4:00:00 --mem=8G"
