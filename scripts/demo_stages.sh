# Sourced by scripts/demo.sh and scripts/demo_seg.sh (not run alone): the
# stages after data generation, timed, and the results file.
#   train_and_evaluate PY CONFIG WORK RESULTS SHOW_DIR CMDLINE [DATA_SECONDS]
# trains (resuming what a previous run finished), evaluates the trained
# model in fp32 (with pictures), then the untrained model as the baseline,
# and writes every metric with the wall time of each stage to RESULTS.
# DEMO_FORMS=all also evaluates the trained model with --amp (bf16 on a
# CPU, fp16 on CUDA), folded into its deploy form
# (tools/model_converters/reparameterize_model.py), and folded +
# channels-last + --amp: the accuracy of each inference form. They are not
# in the default run because bf16 is emulated, and slow, on CPUs without
# bf16 instructions.

seconds=()
stage() {  # stage NAME COMMAND...: run it and record its wall time
  local name="$1" start=$SECONDS
  shift
  "$@"
  seconds+=(--seconds "$name" "$((SECONDS - start))")
}

train_and_evaluate() {
  local py="$1" config="$2" work="$3" results="$4" show_dir="$5" cmdline="$6"
  local trained
  if [[ "${DEMO_FORMS:-fp32}" != fp32 && "${DEMO_FORMS:-fp32}" != all ]]; then
    echo "DEMO_FORMS=${DEMO_FORMS}: use fp32 (the default) or all" >&2
    return 2  # before training, not after it
  fi
  stage train "$py" tools/train.py "$config" --work-dir "$work" --resume
  trained="$(cat "$work/last_checkpoint")"
  stage test_fp32 "$py" tools/test.py "$config" "$trained" \
    --work-dir "$work/test_trained" --show-dir "$show_dir"
  local forms=()
  if [[ "${DEMO_FORMS:-fp32}" == all ]]; then
    stage test_amp "$py" tools/test.py "$config" "$trained" --amp \
      --work-dir "$work/test_trained_amp"
    stage fold "$py" tools/model_converters/reparameterize_model.py \
      "$config" "$trained" "$work/deploy.pth"
    stage test_deploy "$py" tools/test.py "$config" "$work/deploy.pth" \
      --work-dir "$work/test_deploy" \
      --cfg-options model.backbone.deploy=True
    stage test_deploy_channels_last_amp "$py" tools/test.py "$config" \
      "$work/deploy.pth" --work-dir "$work/test_deploy_cl_amp" --amp \
      --cfg-options model.backbone.deploy=True \
      model.backbone.channels_last=True
    forms=(--run trained_amp "$work/test_trained_amp"
      --run trained_deploy_fp32 "$work/test_deploy"
      --run trained_deploy_channels_last_amp "$work/test_deploy_cl_amp")
  fi
  "$py" tools/demo_report.py untrained "$config" "$work/untrained.pth"
  stage test_untrained "$py" tools/test.py "$config" "$work/untrained.pth" \
    --work-dir "$work/test_untrained"
  "$py" tools/demo_report.py loss-curve "$work" "$work/loss_curve.png"
  "$py" tools/demo_report.py results "$results" --config "$config" \
    --run trained_fp32 "$work/test_trained" \
    "${forms[@]}" \
    --run untrained_fp32 "$work/test_untrained" \
    "${seconds[@]}" --cmdline "$cmdline"
}
