build/obj/src/sched/wheel.o: src/sched/wheel.c src/sched/wheel.h
src/sched/wheel.h:
