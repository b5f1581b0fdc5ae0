package io.usagemeter.aggregator.internal;

import java.util.ArrayList;
import java.util.List;

/**
 * The filter of every run spilled in one segment of the dedupe memory: every event is checked against the
 * filter of each segment in the window, and only a "perhaps" goes on to the segment's runs. Sized for the
 * events it is expected to hold at {@value #BITS} bits each (about 0.1 % false "perhaps"); when more come than
 * expected, a filter twice as large is added, so the false rate stays bounded and the heap per event stays
 * within twice the planned bits.
 */
final class SegmentFilter {

    static final double BITS = 16.9;

    private final List<EventFilter> filters = new ArrayList<>(1);

    SegmentFilter(long expectedEvents) {
        filters.add(new EventFilter(expectedEvents, BITS));
    }

    void add(long hash) {
        EventFilter last = filters.get(filters.size() - 1);
        if (last.full()) {
            last = new EventFilter(2 * last.capacity(), BITS);
            filters.add(last);
        }
        last.add(hash);
    }

    boolean mightContain(long hash) {
        for (int i = filters.size() - 1; i >= 0; i--) {
            if (filters.get(i).mightContain(hash)) {
                return true;
            }
        }
        return false;
    }

    long heapBytes() {
        long bytes = 40;
        for (EventFilter f : filters) {
            bytes += f.bytes();
        }
        return bytes;
    }
}
