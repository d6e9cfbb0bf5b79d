#!/bin/bash
# Build the payload (wheels, ctranslate2 cp312, packed weights, clip) and split it for 3 calls.
set -euo pipefail
G=/work/gpuprep; S=$G/stage; B=/work/main/.gpu
rm -rf $S && mkdir -p $S/payload/wheels $S/payload/pack $S/mt
cp $G/wh/openai_whisper-20250625-py3-none-any.whl $G/wh/more_itertools-11.2.1-py3-none-any.whl $G/wh/faster_whisper-1.2.1-py3-none-any.whl $S/payload/wheels/
[ -f $G/ct2_cp312.tar.xz ] || tar -C $G/ct2x -cf - ctranslate2 ctranslate2.libs ctranslate2-4.8.5.dist-info | xz -6 -T2 > $G/ct2_cp312.tar.xz
cp $G/ct2_cp312.tar.xz $S/payload/ctranslate2_cp312.tar.xz
cp -r $G/pack/tiny.en $G/pack/base $S/payload/pack/
for m in tiny.en base; do mkdir -p $S/mt/$m; cp $G/models/$m/*.json $G/models/$m/vocabulary.* $S/mt/$m/ 2>/dev/null || true; done
tar -C $S/mt -cf - tiny.en base | xz -9 > $S/payload/model_text_files.tar.xz
xz -9 -c $G/clip/consultation16k.npy > $S/payload/consultation16k.npy.xz
cp $G/clip/consultation_ref.json $S/payload/
(cd $S && tar -cf payload.tar payload && split -n 3 -d -a 2 payload.tar part. && rm payload.tar)
rm -rf $B && mkdir -p $B/c1 $B/c2 $B/c3
mv $S/part.00 $B/c1/; mv $S/part.01 $B/c2/; mv $S/part.02 $B/c3/
cp $G/bundle/bench_gpu.py $G/bundle/assemble.py $G/ct2pack.py $G/bundle/bundle_info.json $B/c3/
# The converter is the product's own module; on the GPU machine it is imported as ct2_whisper.
cp /work/main/annotators/consult/whisper_convert.py $B/c3/ct2_whisper.py
(cd $B && sha256sum c1/part.00 c2/part.01 c3/part.02 | sed 's#c[123]/##' > c3/SHA256SUMS)
du -sb $B/c1 $B/c2 $B/c3
