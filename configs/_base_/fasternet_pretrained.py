# Official ImageNet-1k FasterNet checkpoints (JierunChen/FasterNet, release
# v1.0), read from the folder in $FASTERNET_PRETRAINED (default:
# checkpoints/). Nothing is downloaded at run time; see README, "Pretrained
# weights". One checkpoint: --cfg-options model.backbone.init_cfg.checkpoint=
pretrained_dir = '{{$FASTERNET_PRETRAINED:checkpoints}}'
fasternet_checkpoints = dict(
    t0=pretrained_dir + '/fasternet_t0-epoch.281-val_acc1.71.9180.pth',
    t1=pretrained_dir + '/fasternet_t1-epoch.291-val_acc1.76.2180.pth',
    t2=pretrained_dir + '/fasternet_t2-epoch.289-val_acc1.78.8860.pth',
    s=pretrained_dir + '/fasternet_s-epoch.299-val_acc1.81.2840.pth',
    m=pretrained_dir + '/fasternet_m-epoch.291-val_acc1.82.9620.pth',
    l=pretrained_dir + '/fasternet_l-epoch.299-val_acc1.83.5060.pth')
