#!/bin/sh
# SLURM TaskProlog (slurm-up.sh sets it): a "print" line goes to the task's output, i.e. the job's log, so that the
# SLURM test can see which GPUs each job step was given.
echo "print task-prolog: job=${SLURM_JOB_ID:-none} step=${SLURM_STEP_ID:-none} CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-unset}"
