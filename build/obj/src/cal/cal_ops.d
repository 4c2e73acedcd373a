build/obj/src/cal/cal_ops.o: src/cal/cal_ops.c src/cal/cal.h \
 src/cal/cal_int.h
src/cal/cal.h:
src/cal/cal_int.h:
