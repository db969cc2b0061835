import { CheckpointError } from '../errors.js';
import { readWeights, resolveModel, type ModelRecord } from '../io/checkpoint/model-dir.js';
import { SRDTrans } from '../model/srdtrans.js';

export interface LoadedModel {
  model: SRDTrans;
  record: ModelRecord;
  weightsFile: string;
}

/** A model from `--model` (a model directory or a checkpoint in one), weights loaded. */
export async function loadModel(modelPath: string): Promise<LoadedModel> {
  const { record, weightsFile } = await resolveModel(modelPath);
  const { tensors } = await readWeights(weightsFile);
  const model = new SRDTrans(record.model, 0);
  try {
    model.loadStateDict(tensors);
  } catch (err) {
    model.dispose();
    if (err instanceof CheckpointError) {
      throw new CheckpointError(`${weightsFile}: does not fit the model's config.json (${err.message})`);
    }
    throw err;
  }
  return { model, record, weightsFile };
}
