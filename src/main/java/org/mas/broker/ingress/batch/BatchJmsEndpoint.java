package org.mas.broker.ingress.batch;

import org.apache.camel.Consumer;
import org.apache.camel.Processor;
import org.apache.camel.Producer;
import org.apache.camel.support.DefaultEndpoint;

/** See {@link BatchJmsComponent}. Options: concurrentConsumers, maxBatchSize, recoveryInterval (ms). */
public class BatchJmsEndpoint extends DefaultEndpoint {

    private final String queue;
    private int concurrentConsumers = 4;
    private int maxBatchSize = 100;
    private long recoveryInterval = 1000;

    BatchJmsEndpoint(String uri, BatchJmsComponent component, String queue) {
        super(uri, component);
        this.queue = queue;
    }

    @Override
    public BatchJmsComponent getComponent() {
        return (BatchJmsComponent) super.getComponent();
    }

    @Override
    public Producer createProducer() {
        throw new UnsupportedOperationException(BatchJmsComponent.SCHEME + " only consumes; send with the jms component");
    }

    @Override
    public Consumer createConsumer(Processor processor) throws Exception {
        if (concurrentConsumers < 1 || maxBatchSize < 1) {
            throw new IllegalArgumentException(BatchJmsComponent.SCHEME + ": concurrentConsumers and maxBatchSize must be "
                    + ">= 1, got " + concurrentConsumers + " and " + maxBatchSize);
        }
        BatchJmsConsumer consumer = new BatchJmsConsumer(this, processor);
        configureConsumer(consumer);
        return consumer;
    }

    public String getQueue() {
        return queue;
    }

    public int getConcurrentConsumers() {
        return concurrentConsumers;
    }

    public void setConcurrentConsumers(int concurrentConsumers) {
        this.concurrentConsumers = concurrentConsumers;
    }

    public int getMaxBatchSize() {
        return maxBatchSize;
    }

    public void setMaxBatchSize(int maxBatchSize) {
        this.maxBatchSize = maxBatchSize;
    }

    public long getRecoveryInterval() {
        return recoveryInterval;
    }

    public void setRecoveryInterval(long recoveryInterval) {
        this.recoveryInterval = recoveryInterval;
    }
}
