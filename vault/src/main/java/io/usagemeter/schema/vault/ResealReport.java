package io.usagemeter.schema.vault;

import java.util.Map;

/**
 * What a rotation or legacy migration did.
 *
 * @param batches batches committed in this run
 * @param resealed rows re-encrypted in this run
 * @param remaining rows still not under the primary key (or still legacy); 0 means done
 * @param primaryKeyId the key every resealed row is now under
 * @param rowsPerKey rows per key id after the run ("legacy" for rows of the older scheme)
 */
public record ResealReport(int batches, long resealed, long remaining, long primaryKeyId, Map<String, Long> rowsPerKey) {

    public boolean complete() {
        return remaining == 0;
    }
}
